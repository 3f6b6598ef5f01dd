"""A user's template: layers as directories, zips, makefile builds and ARNs, and zipped code.

Every layer a function names becomes a local ``/opt`` content, or an error that names the function,
the layer and how to give it: a function whose layer is missing does not start on Lambda either.
"""

from __future__ import annotations

import re
import stat
import time
import zipfile
from pathlib import Path

import pytest

from lambda_sandbox import TemplateError, load_template
from lambda_sandbox._template import LAYERS_ENV, parse_layer_mapping

HERE = Path(__file__).parent
CODE = HERE / "functions" / "basic"
HOLDER = HERE / "layers" / "holder"
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:lambda-warmup:3"
UNVERSIONED = ARN.rsplit(":", 1)[0]


@pytest.fixture(autouse=True)
def _own_cache_and_no_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(LAYERS_ENV, raising=False)


def _template(
    directory: Path, layers: str, resources: str = "", parameters: str = "", code: str = ""
) -> Path:
    """A template of one function ``Fn`` with ``Layers: <layers>``, plus ``resources``."""
    path = directory / "template.yaml"
    path.write_text(
        "Parameters:\n  Stage: {Type: String, Default: dev}\n"
        + parameters
        + "Resources:\n"
        + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        + f"      CodeUri: {code or CODE}\n      Handler: app.echo\n      Runtime: python3.13\n"
        + f"      Layers: {layers}\n"
        + resources
    )
    return path


def _zip(path: Path, entries: dict[str, tuple[bytes, int]]) -> Path:
    """A zip of ``name: (content, mode)``; a mode with S_IFLNK makes the content a link target."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (content, mode) in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix: external_attr's high 16 bits are st_mode
            info.external_attr = (mode if stat.S_IFMT(mode) else stat.S_IFREG | mode) << 16
            archive.writestr(info, content)
    return path


def _layer_zip(path: Path) -> Path:
    return _zip(
        path,
        {
            "extensions/holder": ((HOLDER / "extensions" / "holder").read_bytes(), 0o755),
            "python/greet.py": (b"def hello(name):\n    return 'hello, ' + name\n", 0o644),
            "python/alias.py": (b"greet.py", stat.S_IFLNK | 0o777),
        },
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_layer_directory_under_any_logical_id_and_a_str_path(tmp_path: Path) -> None:
    resources = (
        f"  Tools:\n    Type: AWS::Lambda::LayerVersion\n    Properties:\n      Content: {HOLDER}\n"
    )
    path = _template(tmp_path, "[!Ref Tools]", resources)
    spec = load_template(str(path)).function("Fn")
    assert spec.layers == [HOLDER.resolve()]


def test_a_zipped_layer_is_extracted_once_with_its_modes(tmp_path: Path) -> None:
    _layer_zip(tmp_path / "tools.zip")
    resources = "  ToolsLayer:\n    Type: AWS::Serverless::LayerVersion\n"
    resources += "    Properties: {ContentUri: tools.zip}\n"
    path = _template(tmp_path, "[!Ref ToolsLayer]", resources)
    (layer,) = load_template(path).function("Fn").layers
    assert layer.parent == tmp_path / "cache" / "lambda-warmup" / "sandbox" / "artifacts"
    launcher = layer / "extensions" / "holder"
    assert launcher.read_bytes() == (HOLDER / "extensions" / "holder").read_bytes()
    assert _mode(launcher) == 0o755, "an extension must stay executable"
    assert _mode(layer / "python" / "greet.py") == 0o644
    assert (layer / "python" / "alias.py").readlink() == Path("greet.py")
    assert load_template(path).function("Fn").layers == [layer]  # the same bytes: the same tree


@pytest.mark.parametrize(
    ("name", "content", "mode"),
    [
        ("../evil.py", b"x", 0o644),
        ("/evil.py", b"x", 0o644),
        ("python/../../evil.py", b"x", 0o644),
        ("python/link", b"../../evil.py", stat.S_IFLNK | 0o777),
    ],
)
def test_a_zip_entry_escaping_the_root_is_refused(
    tmp_path: Path, name: str, content: bytes, mode: int
) -> None:
    _zip(tmp_path / "bad.zip", {"python/ok.py": (b"", 0o644), name: (content, mode)})
    resources = "  Bad:\n    Type: AWS::Serverless::LayerVersion\n"
    resources += "    Properties: {ContentUri: bad.zip}\n"
    path = _template(tmp_path, "[!Ref Bad]", resources)
    with pytest.raises(TemplateError, match=r"^Bad: ContentUri: .*bad\.zip.* escapes"):
        load_template(path).function("Fn")
    assert not list(tmp_path.rglob("evil.py"))
    artifacts = tmp_path / "cache" / "lambda-warmup" / "sandbox" / "artifacts"
    assert list(artifacts.iterdir()) == [], "nothing half-extracted is left in the cache"


_MAKEFILE = """\
build-ToolsLayer:
\tmkdir -p "$(ARTIFACTS_DIR)/python"
\tcp greet.py "$(ARTIFACTS_DIR)/python/"
\techo "$@ in $(CURDIR)" > "$(ARTIFACTS_DIR)/built"
\ttouch left-in-scratch
"""


def _makefile_layer(tmp_path: Path, makefile: str) -> Path:
    source = tmp_path / "tools"
    source.mkdir()
    (source / "Makefile").write_text(makefile)
    (source / "greet.py").write_text("NAME = 'greet'\n")
    resources = "  ToolsLayer:\n    Type: AWS::Serverless::LayerVersion\n"
    resources += "    Properties: {ContentUri: tools/}\n    Metadata: {BuildMethod: makefile}\n"
    return _template(tmp_path, "[!Ref ToolsLayer]", resources)


def test_a_makefile_layer_is_built_as_sam_build_does(tmp_path: Path) -> None:
    path = _makefile_layer(tmp_path, _MAKEFILE)
    said: list[str] = []
    template = load_template(path, progress=said.append)
    (layer,) = template.function("Fn").layers
    assert (layer / "python" / "greet.py").read_text() == "NAME = 'greet'\n"
    target, _, cwd = (layer / "built").read_text().strip().partition(" in ")
    assert target == "build-ToolsLayer"
    assert Path(cwd) != tmp_path / "tools", "make runs in a scratch copy"
    assert not (tmp_path / "tools" / "left-in-scratch").exists()
    assert not Path(cwd).exists(), "the scratch copy is removed"
    assert template.function("Fn").layers == [layer], "built once per template"
    assert said[0] == "Building layer ToolsLayer: make build-ToolsLayer (BuildMethod: makefile)"
    assert re.fullmatch(r"Built layer ToolsLayer in \d+\.\d s", said[1])
    assert len(said) == 2


def test_a_failing_makefile_build_shows_its_output(tmp_path: Path) -> None:
    path = _makefile_layer(
        tmp_path, "build-ToolsLayer:\n\t@echo compiling; echo broken >&2; false\n"
    )
    with pytest.raises(TemplateError) as caught:
        load_template(path).function("Fn")
    message = str(caught.value)
    assert message.startswith("ToolsLayer: `--makefile ")
    assert "build-ToolsLayer` failed (exit 2); its output:\n  compiling\n  broken\n" in message


def test_a_makefile_build_is_bounded_in_time(tmp_path: Path) -> None:
    path = _makefile_layer(tmp_path, "build-ToolsLayer:\n\t@echo started; sleep 30\n")
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"did not finish in 0\.5 s; its output:\n  started"):
        load_template(path, build_timeout_s=0.5).function("Fn")
    assert time.monotonic() - started < 10


def test_sam_build_output_of_a_makefile_layer_is_used_as_it_is(tmp_path: Path) -> None:
    built = tmp_path / "ToolsLayer"
    (built / "python").mkdir(parents=True)
    resources = "  ToolsLayer:\n    Type: AWS::Serverless::LayerVersion\n"
    resources += "    Properties: {ContentUri: ToolsLayer}\n"
    resources += "    Metadata: {BuildMethod: makefile, SamResourceId: ToolsLayer}\n"
    said: list[str] = []
    template = load_template(
        _template(tmp_path, "[!Ref ToolsLayer]", resources), progress=said.append
    )
    assert template.function("Fn").layers == [built]
    assert said == []


def test_an_arn_mapped_by_the_option_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _template(tmp_path, f"[{ARN}]")
    zipped = _layer_zip(tmp_path / "warmup.zip")
    (layer,) = load_template(path, layers={ARN: zipped}).function("Fn").layers
    assert _mode(layer / "extensions" / "holder") == 0o755
    # The environment's mapping, without a version: it serves every version of the layer.
    monkeypatch.setenv(
        LAYERS_ENV, f"arn:aws:lambda:us-east-1:1:layer:other=/nowhere,{UNVERSIONED}={HOLDER}"
    )
    assert load_template(path).function("Fn").layers == [HOLDER.resolve()]
    # The option's (or the API's) mapping wins over the environment's.
    assert load_template(path, layers={ARN: zipped}).function("Fn").layers == [layer]


def test_a_parameter_holding_an_arn_with_and_without_a_mapping(tmp_path: Path) -> None:
    parameters = f"  WarmupLayerArn: {{Type: String, Default: '{ARN}'}}\n"
    path = _template(tmp_path, "[!Ref WarmupLayerArn]", parameters=parameters)
    with pytest.raises(TemplateError) as caught:
        load_template(path).function("Fn")
    assert str(caught.value) == (
        f"Fn: layer {ARN} (parameter WarmupLayerArn) has no local content; "
        f"give it with --layer {ARN}=PATH (a directory or .zip) or LAMBDA_SANDBOX_LAYERS"
    )
    assert load_template(path, layers={ARN: HOLDER}).function("Fn").layers == [HOLDER.resolve()]


def test_a_parameter_holding_a_local_path(tmp_path: Path) -> None:
    _layer_zip(tmp_path / "warmup.zip")
    parameters = "  WarmupLayer: {Type: String, Default: warmup.zip}\n"
    path = _template(tmp_path, "[!Ref WarmupLayer]", parameters=parameters)
    (layer,) = load_template(path).function("Fn").layers  # relative to the template
    assert (layer / "python" / "greet.py").is_file()
    overridden = load_template(path, {"WarmupLayer": str(HOLDER)}).function("Fn")
    assert overridden.layers == [HOLDER.resolve()]
    with pytest.raises(
        TemplateError,
        match=r"^Fn: layer nothing-here \(parameter WarmupLayer\): .*nothing-here does not exist$",
    ):
        load_template(path, {"WarmupLayer": "nothing-here"}).function("Fn")


def test_a_comma_delimited_list_parameter_of_layers(tmp_path: Path) -> None:
    parameters = "  LayerList: {Type: CommaDelimitedList, Default: ''}\n"
    path = _template(tmp_path, "!Ref LayerList", parameters=parameters)
    assert load_template(path).function("Fn").layers == []
    both = load_template(path, {"LayerList": f"{HOLDER}, {ARN}"}, layers={ARN: CODE})
    assert both.function("Fn").layers == [HOLDER.resolve(), CODE.resolve()]


@pytest.mark.parametrize(
    ("layers", "error"),
    [
        (
            "[!Ref NoDefault]",
            "Fn: layer parameter NoDefault has no value; "
            "give it with --parameter-overrides NoDefault=ARN-or-PATH",
        ),
        ("[!Ref Table]", "Fn: layer !Ref Table is a AWS::DynamoDB::Table, not a layer"),
        (
            "[!GetAtt App.Outputs.LayerArn]",
            "Fn: layer {'Fn::GetAtt': ['App', 'Outputs.LayerArn']} cannot be resolved "
            "offline; give it as an ARN (or a Parameter) and its content with --layer ARN=PATH",
        ),
        ("!Ref Stage", "Fn: Layers {'Ref': 'Stage'} is not a list"),
    ],
)
def test_a_layer_that_cannot_be_resolved_is_an_error(
    tmp_path: Path, layers: str, error: str
) -> None:
    parameters = "  NoDefault: {Type: String}\n"
    resources = "  Table:\n    Type: AWS::DynamoDB::Table\n"
    path = _template(tmp_path, layers, resources, parameters)
    with pytest.raises(TemplateError) as caught:
        load_template(path).function("Fn")
    assert str(caught.value) == error


def test_a_python_build_method_layer_in_a_source_template_says_to_build(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "requirements.txt").write_text("anyio\n")
    resources = "  Libs:\n    Type: AWS::Serverless::LayerVersion\n"
    resources += "    Properties: {ContentUri: libs/}\n    Metadata: {BuildMethod: python3.13}\n"
    path = _template(tmp_path, "[!Ref Libs]", resources)
    with pytest.raises(
        TemplateError, match=r"^Libs: BuildMethod python3.13 layers are built by `sam build`"
    ):
        load_template(path).function("Fn")


def test_a_zipped_code_uri_is_extracted(tmp_path: Path) -> None:
    _zip(tmp_path / "code.zip", {"app.py": ((CODE / "app.py").read_bytes(), 0o644)})
    spec = load_template(_template(tmp_path, "[]", code="code.zip")).function("Fn")
    assert (spec.code_dir / "app.py").read_bytes() == (CODE / "app.py").read_bytes()


def test_a_layer_mapping_item_must_be_arn_equals_path() -> None:
    assert parse_layer_mapping([f" {ARN}=a/b.zip "]) == {ARN: Path("a/b.zip").absolute()}
    with pytest.raises(TemplateError, match=r"^--layer: 'layer.zip' is not ARN=PATH$"):
        parse_layer_mapping(["layer.zip"])


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("{LogFormat: JSON}", {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}),
        (
            "{LogFormat: JSON, ApplicationLogLevel: DEBUG, SystemLogLevel: WARN}",
            {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
        ),
        ("{LogFormat: Text}", {}),
    ],
)
def test_logging_config_sets_lambdas_log_variables(
    tmp_path: Path, config: str, expected: dict[str, str]
) -> None:
    path = _template(tmp_path, "[]", resources=f"      LoggingConfig: {config}\n")
    environment = load_template(path).function("Fn").environment
    got = {k: v for k, v in environment.items() if k.startswith("AWS_LAMBDA_LOG_")}
    assert got == expected
