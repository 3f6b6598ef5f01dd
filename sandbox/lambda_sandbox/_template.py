"""Read a SAM template (its source, or ``sam build``'s output): functions, layers, environment.

Covers what ``sam local invoke`` needs from ``AWS::Serverless::Function``: CodeUri (a directory or
a ``.zip``), Handler, Runtime, Layers, Environment.Variables, Timeout, MemorySize, FunctionName,
LoggingConfig (as the ``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL`` Lambda sets), and
the template's ``Globals.Function``. Each layer becomes a local ``/opt`` content or a
``TemplateError`` (a function whose layer is missing fails to start on Lambda too): a layer
resource of the template (any logical id; ContentUri a directory, a ``.zip``, or in a source
template ``BuildMethod: makefile``, built as ``sam build`` does), a local path, or an ARN mapped to
a directory or zip (``--layer ARN=PATH``, ``LAMBDA_SANDBOX_LAYERS``), given directly or through a
Parameter. Intrinsics are resolved where that is possible offline: ``Ref`` to parameters and
pseudo parameters, ``Ref`` to a resource (its logical id, as ``sam local invoke`` does; an SSM
parameter's Name when the template gives it), ``Fn::Sub`` with those, ``Fn::Join``, ``Fn::If`` on
the template's ``Conditions`` (``Fn::Equals``, ``Fn::And``, ``Fn::Or``, ``Fn::Not``,
``Condition``), and ``Ref: AWS::NoValue`` (the property, variable or layer is left out, as
CloudFormation does). A function whose resource ``Condition`` is false does not exist. Anything
else makes an environment variable unresolved (it is left out, with a warning).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._artifacts import ArtifactError, make_build, unpacked
from ._sandbox import FunctionSpec, SandboxError

__all__ = ["LAYERS_ENV", "Template", "TemplateError", "load_template", "parse_layer_mapping"]

LAYERS_ENV = "LAMBDA_SANDBOX_LAYERS"
"""Comma-separated ``ARN=PATH`` pairs: local content for layers the template gives as ARNs."""
LAYER_TYPES = ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
DEFAULT_BUILD_TIMEOUT_S = 600.0
_LAYER_ARN = re.compile(r"(arn:[^:]+:lambda:[^:]*:[^:]*:layer:[^:]+):[0-9]+")

_SEQUENCE_TAGS = {"GetAtt"}


class TemplateError(SandboxError):
    """The template cannot be read or does not describe a runnable function."""


class _Unresolved:
    def __init__(self, what: Any) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"<unresolved {self.what!r}>"


class _NoValue:
    """``Ref: AWS::NoValue``: the property it is the value of is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_MAX_CONDITION_DEPTH = 32


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (``!Ref x``) as their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix in _SEQUENCE_TAGS and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@dataclass
class Template:
    path: Path
    document: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    warnings: list[str] = field(default_factory=list)
    layer_paths: dict[str, Path] = field(default_factory=dict)
    """Layer ARN (with or without its version) -> a local directory or zip of its content."""
    build_timeout_s: float = DEFAULT_BUILD_TIMEOUT_S
    """Bound on one ``BuildMethod: makefile`` build."""
    progress: Callable[[str], object] | None = None
    """Told what takes time (a layer's build), one line each."""
    _layer_content: dict[str, Path] = field(default_factory=dict, init=False, repr=False)

    @property
    def resources(self) -> dict[str, Any]:
        resources = self.document.get("Resources") or {}
        if not isinstance(resources, dict):
            raise TemplateError(f"{self.path}: Resources is not a mapping")
        return resources

    def function_ids(self) -> list[str]:
        """Logical ids of the functions, leaving out those whose ``Condition`` is false."""
        return [
            logical_id
            for logical_id, res in self.resources.items()
            if isinstance(res, dict)
            and res.get("Type") == "AWS::Serverless::Function"
            and self._resource_exists(logical_id, res)
        ]

    def _resource_exists(self, logical_id: str, res: dict[str, Any]) -> bool:
        name = res.get("Condition")
        if name is None:
            return True
        holds = self._condition(name)
        if isinstance(holds, _Unresolved):
            self.warnings.append(f"{logical_id}: Condition {name!r} cannot be resolved; kept")
            return True
        return holds

    def function(
        self, logical_id: str | None = None, env_overrides: Mapping[str, Any] | None = None
    ) -> FunctionSpec:
        """The function (the only one when ``logical_id`` is None), as a :class:`FunctionSpec`.

        ``env_overrides`` is ``sam local invoke --env-vars``'s document: ``{"Parameters": {...},
        "<LogicalId>": {...}}``; as in SAM, only variables the template declares are overridden.
        """
        ids = self.function_ids()
        if logical_id is None:
            if len(ids) != 1:
                raise TemplateError(
                    f"{self.path}: {len(ids)} functions ({', '.join(ids) or 'none'}); "
                    "name the one to invoke"
                )
            logical_id = ids[0]
        if logical_id not in ids:
            raise TemplateError(
                f"{self.path}: no AWS::Serverless::Function {logical_id!r} "
                f"(functions: {', '.join(ids) or 'none'})"
            )
        props = self._function_properties(logical_id)
        code_uri = self._resolve(props.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local path, got {code_uri!r}")
        handler = self._resolve(props.get("Handler"))
        runtime = self._resolve(props.get("Runtime"))
        if not isinstance(handler, str) or not isinstance(runtime, str):
            raise TemplateError(f"{logical_id}: Handler and Runtime are required")
        env = self._environment(logical_id, props, env_overrides or {})
        env.update(self._logging_environment(props))
        name = self._resolve(props.get("FunctionName"))
        timeout = self._resolve(props.get("Timeout", 3))
        memory = self._resolve(props.get("MemorySize", 128))
        return FunctionSpec(
            code_dir=self._content(code_uri, f"{logical_id}: CodeUri"),
            handler=handler,
            layers=self._layers(logical_id, props.get("Layers") or []),
            environment=env,
            name=name if isinstance(name, str) else logical_id,
            timeout_s=3.0 if timeout is NO_VALUE else float(timeout),
            memory_mb=128 if memory is NO_VALUE else int(memory),
            runtime=runtime,
            region=self.region,
        )

    def _function_properties(self, logical_id: str) -> dict[str, Any]:
        globals_ = ((self.document.get("Globals") or {}).get("Function")) or {}
        props = dict(self.resources[logical_id].get("Properties") or {})
        globals_ = {k: v for k, v in globals_.items() if self._pick(v) is not NO_VALUE}
        props = {k: v for k, v in props.items() if self._pick(v) is not NO_VALUE}
        merged: dict[str, Any] = {**globals_, **props}
        genv = self._variables(globals_)
        fenv = self._variables(props)
        merged["Environment"] = {"Variables": {**genv, **fenv}}
        glayers = self._pick(globals_.get("Layers"))
        flayers = self._pick(props.get("Layers"))
        if isinstance(glayers, list) and isinstance(flayers, list):
            merged["Layers"] = [*glayers, *flayers]
        return merged

    def _variables(self, props: dict[str, Any]) -> dict[str, Any]:
        environment = self._pick(props.get("Environment"))
        variables = (
            self._pick(environment.get("Variables")) if isinstance(environment, dict) else {}
        )
        return variables if isinstance(variables, dict) else {}

    def _environment(
        self, logical_id: str, props: dict[str, Any], overrides: Mapping[str, Any]
    ) -> dict[str, str]:
        declared = props["Environment"]["Variables"]
        env: dict[str, str] = {}
        for key, raw in declared.items():
            value = self._resolve(raw)
            if value is NO_VALUE:
                continue
            if isinstance(value, _Unresolved):
                self.warnings.append(f"{logical_id}: {key} left out, cannot resolve {raw!r}")
                continue
            env[key] = _env_str(value)
        for section in ("Parameters", logical_id):
            for key, value in (overrides.get(section) or {}).items():
                if key in declared:
                    env[key] = _env_str(value)
        return env

    def _logging_environment(self, props: dict[str, Any]) -> dict[str, str]:
        """What Lambda sets from ``LoggingConfig``: with ``LogFormat: JSON``,
        ``AWS_LAMBDA_LOG_FORMAT=JSON`` and ``AWS_LAMBDA_LOG_LEVEL`` (``ApplicationLogLevel``,
        ``INFO`` when not given); with text, neither (log levels need the JSON format)."""
        config = self._pick(props.get("LoggingConfig"))
        if not isinstance(config, dict):
            return {}
        log_format = self._resolve(config.get("LogFormat", NO_VALUE))
        if not isinstance(log_format, str) or log_format.upper() != "JSON":
            return {}
        level = self._resolve(config.get("ApplicationLogLevel", NO_VALUE))
        level = level.upper() if isinstance(level, str) and level.strip() else "INFO"
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}

    def _layers(self, logical_id: str, layers: Any) -> list[Path]:
        layers = self._pick(layers)
        if layers is NO_VALUE:
            return []
        ref = layers.get("Ref") if isinstance(layers, dict) and len(layers) == 1 else None
        declared = self._declared_parameters().get(ref) if isinstance(ref, str) else None
        if isinstance(declared, dict) and declared.get("Type") == "CommaDelimitedList":
            # Layers: !Ref LayerArns, one parameter holding them all (ARNs or local paths)
            value = self.parameters.get(str(ref), "")
            layers = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(layers, list):
            raise TemplateError(f"{logical_id}: Layers {layers!r} is not a list")
        picked = (self._pick(item) for item in layers)
        return [self._layer(logical_id, layer) for layer in picked if layer is not NO_VALUE]

    def _layer(self, function_id: str, layer: Any) -> Path:
        """One entry of a function's Layers: a layer resource of this template, an ARN mapped to
        a local content, or a local path (directly, or through a Parameter)."""
        ref = layer.get("Ref") if isinstance(layer, dict) and len(layer) == 1 else None
        if isinstance(ref, str) and ref in self.resources:
            return self._layer_resource(function_id, ref)
        parameter = isinstance(ref, str) and ref in self._declared_parameters()
        if parameter and ref not in self.parameters:
            raise TemplateError(
                f"{function_id}: layer parameter {ref} has no value; give it with "
                f"--parameter-overrides {ref}=ARN-or-PATH"
            )
        value = self._resolve(layer)
        if not isinstance(value, str) or not value:
            raise TemplateError(
                f"{function_id}: layer {layer!r} cannot be resolved offline; give it as an ARN "
                "(or a Parameter) and its content with --layer ARN=PATH"
            )
        what = f"{function_id}: layer {value}" + (f" (parameter {ref})" if parameter else "")
        if value.startswith("arn:"):
            return self._mapped_layer(value, what)
        return self._content(value, what)

    def _mapped_layer(self, arn: str, what: str) -> Path:
        """The content ``--layer``/``LAMBDA_SANDBOX_LAYERS`` give for ``arn``: that very ARN, or
        the same layer without a version (one mapping then serves every version)."""
        path = self.layer_paths.get(arn)
        unversioned = _LAYER_ARN.fullmatch(arn)
        if path is None and unversioned:
            path = self.layer_paths.get(unversioned.group(1))
        if path is None:
            raise TemplateError(
                f"{what} has no local content; give it with --layer {arn}=PATH "
                f"(a directory or .zip) or {LAYERS_ENV}"
            )
        return self._content(path, f"{what} (--layer)")

    def _declared_parameters(self) -> dict[str, Any]:
        declared = self.document.get("Parameters") or {}
        return declared if isinstance(declared, dict) else {}

    def _layer_resource(self, function_id: str, layer_id: str) -> Path:
        """A layer of this template, built or extracted once for all its functions."""
        if layer_id in self._layer_content:
            return self._layer_content[layer_id]
        res = self.resources[layer_id]
        kind = res.get("Type") if isinstance(res, dict) else None
        if kind not in LAYER_TYPES:
            raise TemplateError(f"{function_id}: layer !Ref {layer_id} is a {kind}, not a layer")
        props = res.get("Properties") or {}
        uri = self._resolve(props.get("ContentUri") or props.get("Content"))
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise TemplateError(f"{layer_id}: ContentUri must be a local path, got {uri!r}")
        metadata = res.get("Metadata") or {}
        method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
        source = self._local(uri)
        if method == "makefile" and (makefile := self._makefile(source, metadata)) is not None:
            content = self._make(layer_id, source, makefile)
        else:
            content = self._content(uri, f"{layer_id}: ContentUri")
            if isinstance(method, str) and method.startswith("python"):
                self._check_python_layer(layer_id, method, content)
        self._layer_content[layer_id] = content
        return content

    def _makefile(self, source: Path, metadata: dict[str, Any]) -> Path | None:
        """The Makefile ``sam build`` would run, or None when this is ``sam build``'s output
        (there, ContentUri is the built directory, which has no Makefile)."""
        context = metadata.get("ContextPath")
        makefile = (self._local(context) if isinstance(context, str) else source) / "Makefile"
        return makefile if source.is_dir() and makefile.is_file() else None

    def _make(self, layer_id: str, source: Path, makefile: Path) -> Path:
        if self.progress is not None:
            self.progress(
                f"Building layer {layer_id}: make build-{layer_id} (BuildMethod: makefile)"
            )
        try:
            content, seconds = make_build(
                source, makefile, layer_id, timeout_s=self.build_timeout_s
            )
        except ArtifactError as exc:
            raise TemplateError(f"{layer_id}: {exc}") from None
        if self.progress is not None:
            self.progress(f"Built layer {layer_id} in {seconds:.1f} s")
        return content

    @staticmethod
    def _check_python_layer(layer_id: str, method: str, content: Path) -> None:
        # sam build installs such a layer's sources and requirements under python/; the source
        # directory itself would land at /opt, where Python never looks.
        if not (content / "python").is_dir():
            raise TemplateError(
                f"{layer_id}: BuildMethod {method} layers are built by `sam build`; "
                "invoke its output (.aws-sam/build/template.yaml)"
            )

    def _local(self, uri: str | Path) -> Path:
        """A path of the template: relative to the template's directory."""
        return (self.path.parent / uri).resolve()

    def _content(self, uri: str | Path, what: str) -> Path:
        """The local directory for ``uri``: itself, or the zip's extracted tree."""
        try:
            return unpacked(self._local(uri))
        except ArtifactError as exc:
            raise TemplateError(f"{what}: {exc}") from None

    def _pick(self, value: Any) -> Any:
        """``value`` with ``Fn::If`` chosen and ``Ref: AWS::NoValue`` as ``NO_VALUE``; other
        intrinsics are left for the caller."""
        for _ in range(_MAX_CONDITION_DEPTH):
            if not (isinstance(value, dict) and len(value) == 1):
                return value
            ((key, arg),) = value.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if key != "Fn::If":
                return value
            if not (isinstance(arg, list) and len(arg) == 3):
                return _Unresolved(value)
            holds = self._condition(arg[0])
            if isinstance(holds, _Unresolved):
                return holds
            value = arg[1] if holds else arg[2]
        return _Unresolved(value)

    def _condition(self, name: Any, depth: int = 0) -> bool | _Unresolved:
        conditions = self.document.get("Conditions") or {}
        if not isinstance(name, str) or not isinstance(conditions, dict) or name not in conditions:
            return _Unresolved({"Condition": name})
        return self._evaluate(conditions[name], depth + 1)

    def _evaluate(self, expr: Any, depth: int) -> bool | _Unresolved:
        if depth > _MAX_CONDITION_DEPTH or not (isinstance(expr, dict) and len(expr) == 1):
            return _Unresolved(expr)
        ((key, arg),) = expr.items()
        if key in ("Condition", "Fn::Condition"):
            return self._condition(arg, depth)
        if key == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            left, right = (self._resolve(item) for item in arg)
            if isinstance(left, _Unresolved) or isinstance(right, _Unresolved):
                return _Unresolved(expr)
            return _env_str(left) == _env_str(right)
        if key in ("Fn::And", "Fn::Or", "Fn::Not") and isinstance(arg, list) and arg:
            values = [self._evaluate(item, depth + 1) for item in arg]
            if any(isinstance(v, _Unresolved) for v in values):
                return _Unresolved(expr)
            if key == "Fn::Not":
                return len(values) == 1 and not values[0]
            return all(values) if key == "Fn::And" else any(values)
        return _Unresolved(expr)

    def _resolve(self, value: Any) -> Any:
        value = self._pick(value)
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::Sub":
                template, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    got = self._resolve(extra[name]) if name in extra else self._ref(name)
                    if isinstance(got, _Unresolved):
                        raise _SubError
                    return str(got)

                try:
                    return re.sub(r"\$\{([^}!][^}]*)\}", sub, template)
                except _SubError:
                    return _Unresolved(value)
            if key == "Fn::Join":
                sep, items = arg
                parts = [self._resolve(item) for item in items]
                parts = [p for p in parts if p is not NO_VALUE]
                if any(isinstance(p, _Unresolved) for p in parts):
                    return _Unresolved(value)
                return str(sep).join(str(p) for p in parts)
            if key.startswith("Fn::"):
                return _Unresolved(value)
        return value

    def _ref(self, name: Any) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "local",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        res = self.resources.get(name) if isinstance(name, str) else None
        if isinstance(res, dict):
            # What CloudFormation would give is known only after a deploy; like `sam local
            # invoke`, use the logical id, except where the template itself says the value.
            if res.get("Type") == "AWS::SSM::Parameter":
                ssm_name = self._resolve((res.get("Properties") or {}).get("Name"))
                if isinstance(ssm_name, str):
                    return ssm_name
            return name
        return _Unresolved({"Ref": name})


class _SubError(Exception):
    pass


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_parameter_overrides(items: list[str]) -> dict[str, str]:
    """``Key=Value`` pairs, or CloudFormation's ``ParameterKey=K,ParameterValue=V``."""
    out: dict[str, str] = {}
    for item in items:
        if item.startswith("ParameterKey="):
            fields = dict(part.split("=", 1) for part in item.split(",", 1))
            out[fields["ParameterKey"]] = fields.get("ParameterValue", "")
        else:
            key, sep, value = item.partition("=")
            if not sep:
                raise TemplateError(f"--parameter-overrides: {item!r} is not Key=Value")
            out[key] = value
    return out


def parse_layer_mapping(items: Iterable[str], source: str = "--layer") -> dict[str, Path]:
    """``ARN=PATH`` items (PATH a directory or zip, relative to the current directory)."""
    out: dict[str, Path] = {}
    for item in items:
        arn, sep, path = item.strip().partition("=")
        if not (sep and arn.startswith("arn:") and path):
            raise TemplateError(f"{source}: {item.strip()!r} is not ARN=PATH")
        out[arn] = Path(path).absolute()
    return out


def load_template(
    path: str | os.PathLike[str],
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    *,
    layers: Mapping[str, str | os.PathLike[str]] | None = None,
    build_timeout_s: float = DEFAULT_BUILD_TIMEOUT_S,
    progress: Callable[[str], object] | None = None,
) -> Template:
    """The template at ``path``. ``layers`` maps layer ARNs to local content (a directory or a
    zip); it adds to, and wins over, ``$LAMBDA_SANDBOX_LAYERS`` (comma-separated ``ARN=PATH``)."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(), Loader=_CfnLoader)  # SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{path}: not a template")
    params: dict[str, str] = {}
    for name, decl in (document.get("Parameters") or {}).items():
        if isinstance(decl, dict) and "Default" in decl:
            params[name] = _env_str(decl["Default"])
    params.update(parameter_overrides or {})
    env_items = [item for item in os.environ.get(LAYERS_ENV, "").split(",") if item.strip()]
    layer_paths = parse_layer_mapping(env_items, LAYERS_ENV)
    layer_paths.update({arn: Path(p).absolute() for arn, p in (layers or {}).items()})
    return Template(
        path=path,
        document=document,
        parameters=params,
        region=region,
        layer_paths=layer_paths,
        build_timeout_s=build_timeout_s,
        progress=progress,
    )
