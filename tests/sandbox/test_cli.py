"""The template reader and ``python -m lambda_sandbox local invoke``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambda_sandbox import TemplateError, load_template
from lambda_sandbox._template import parse_parameter_overrides
from tests.support.sandboxes import skip_without_snapshots

TEMPLATE = Path(__file__).parent / "template" / "template.yaml"
REPO = Path(__file__).parent.parent.parent
CONSOLE_SCRIPT = Path(sys.executable).parent / "lambda-sandbox"
HOLDER = Path(__file__).parent / "layers" / "holder"


def test_template_function_spec() -> None:
    template = load_template(TEMPLATE, {"Greeting": "hi"}, region="eu-west-1")
    spec = template.function(
        "EchoFunction",
        {"Parameters": {"OVERRIDDEN": "from-env-vars", "UNDECLARED": "x"}},
    )
    assert spec.handler == "app.echo"
    assert spec.runtime == "python3.13"
    assert spec.timeout_s == 5.0
    assert spec.memory_mb == 256
    assert spec.name == "EchoFunction"
    assert spec.region == "eu-west-1"
    assert spec.code_dir == (TEMPLATE.parent.parent / "functions" / "basic").resolve()
    assert spec.layers == [(TEMPLATE.parent.parent / "layers" / "holder").resolve()]
    assert spec.environment == {
        "GLOBAL_VAR": "global",
        "GREETING": "hi",
        "REGION_SUB": "eu-west-1-hi",
        "OVERRIDDEN": "from-env-vars",
        "JOINED": "a/hi",
        "TABLE_NAME": "Table",  # a resource's Ref: its logical id, as in `sam local invoke`
        "PARAMETER_NAME": "/local/greeting",
    }
    assert any("TABLE_ARN" in w for w in template.warnings)
    assert template.function("RaisesFunction").timeout_s == 2.0


def test_template_errors() -> None:
    template = load_template(TEMPLATE)
    with pytest.raises(TemplateError, match="2 functions"):
        template.function()
    with pytest.raises(TemplateError, match="no AWS::Serverless::Function 'Nope'"):
        template.function("Nope")


_CONDITIONS_TEMPLATE = """
Parameters:
  Stage: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  DevInEu: !And [!Condition IsDev, !Equals [!Ref "AWS::Region", eu-west-1]]
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: LAYER}
  ProdOnly:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {CodeUri: CODE, Handler: app.echo, Runtime: python3.13}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CODE
      Handler: app.echo
      Runtime: python3.13
      Timeout: !If [IsProd, 30, !Ref "AWS::NoValue"]
      MemorySize: !If [DevInEu, 512, 256]
      Layers: [!If [IsDev, !Ref Layer, !Ref "AWS::NoValue"]]
      Environment:
        Variables:
          STAGE_NAME: !If [IsProd, production, development]
          PROD_ONLY: !If [IsProd, "yes", !Ref "AWS::NoValue"]
          ALWAYS: !Sub "${Stage}-x"
"""


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_template_conditions_if_and_no_value(tmp_path: Path, stage: str) -> None:
    code = TEMPLATE.parent.parent / "functions" / "basic"
    layer = TEMPLATE.parent.parent / "layers" / "holder"
    path = tmp_path / "template.yaml"
    path.write_text(_CONDITIONS_TEMPLATE.replace("CODE", str(code)).replace("LAYER", str(layer)))
    template = load_template(path, {"Stage": stage}, region="eu-west-1")
    spec = template.function("Fn")
    if stage == "dev":
        assert template.function_ids() == ["Fn"]  # ProdOnly's Condition is false
        assert spec.timeout_s == 3.0  # AWS::NoValue: the property is left out
        assert spec.memory_mb == 512
        assert spec.layers == [layer.resolve()]
        assert spec.environment == {"STAGE_NAME": "development", "ALWAYS": "dev-x"}
    else:
        assert template.function_ids() == ["ProdOnly", "Fn"]
        assert spec.timeout_s == 30.0
        assert spec.memory_mb == 256
        assert spec.layers == []
        assert spec.environment == {
            "STAGE_NAME": "production",
            "PROD_ONLY": "yes",
            "ALWAYS": "prod-x",
        }
    assert template.warnings == []


def test_parameter_overrides_both_forms() -> None:
    assert parse_parameter_overrides(["A=1", "ParameterKey=B,ParameterValue=2=2"]) == {
        "A": "1",
        "B": "2=2",
    }


@pytest.mark.e2e
def test_cli_local_invoke(tmp_path: Path) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"EchoFunction": {"GREETING": "from-file"}}))
    records = tmp_path / "records.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_sandbox",
            "local",
            "invoke",
            "EchoFunction",
            "-t",
            str(TEMPLATE),
            "-e",
            "-",
            "--env-vars",
            str(env_vars),
            "--invocations",
            "2",
            "--idle",
            "0.1",
            "--records",
            str(records),
        ],
        input=b'{"from": "stdin"}',
        capture_output=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    responses = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(responses) == 2
    assert responses[0]["event"] == {"from": "stdin"}
    assert responses[0]["env"]["GREETING"] == "from-file"
    assert responses[0]["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert stderr.count("START RequestId:") == 2
    assert stderr.count("Init Duration:") == 1
    assert "[holder] holder-registered" in stderr
    kinds = [json.loads(line)["event"] for line in records.read_text().splitlines()]
    assert kinds.count("invoke_end") == 2
    assert "freeze" in kinds
    assert kinds[-1] == "closed"


@pytest.mark.e2e
def test_cli_idle_freezes_a_provisioned_environment_before_its_first_invocation(
    tmp_path: Path,
) -> None:
    records = tmp_path / "records.jsonl"
    proc = _cli(
        "local",
        "invoke",
        "EchoFunction",
        "-t",
        str(TEMPLATE),
        "--init-type",
        "provisioned-concurrency",
        "--idle",
        "0.5",
        "--records",
        str(records),
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    recs = [json.loads(line) for line in records.read_text().splitlines()]
    kinds = [r["event"] for r in recs]
    assert kinds.index("init_end") < kinds.index("freeze") < kinds.index("thaw"), kinds
    frozen_ms = recs[kinds.index("thaw")]["t_ms"] - recs[kinds.index("freeze")]["t_ms"]
    assert frozen_ms >= 500, frozen_ms


@pytest.mark.e2e
@pytest.mark.parametrize("function", ["RaisesFunction", "EchoFunction"])
def test_cli_local_invoke_on_managed_instances(function: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lambda_sandbox",
            "local",
            "invoke",
            function,
            "-t",
            str(TEMPLATE),
            "--init-type",
            "lambda-managed-instances",
            "--max-concurrency",
            "2",
        ],
        capture_output=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    stderr = proc.stderr.decode()
    if function == "RaisesFunction":  # served by one of the two workers; its error is the answer
        assert proc.returncode == 0, stderr
        assert json.loads(proc.stdout)["errorType"] == "ValueError"
        assert "Init Duration" not in stderr
    else:  # its holder extension subscribes to INVOKE, which Managed Instances refuse
        assert proc.returncode == 2, stderr
        assert "Phase: init\tStatus: error\tError Type: Extension.Crash" in stderr
        assert "there is no re-init" in stderr


def _cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambda_sandbox", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.mark.e2e
def test_cli_restores_snapstart_environments_from_one_snapshot() -> None:
    skip_without_snapshots()
    proc = _cli(
        "local",
        "invoke",
        "EchoFunction",
        "-t",
        str(TEMPLATE),
        "--init-type",
        "snap-start",
        "--restores",
        "2",
        "--invocations",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    responses = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(responses) == 4
    assert len({r["init_at"] for r in responses}) == 1, "every environment comes from one INIT"
    assert proc.stderr.count("INIT_START") == 1
    assert proc.stderr.count("Restore Duration:") == 2


@pytest.mark.e2e
def test_cli_refuses_restores_but_for_snapstart() -> None:
    proc = _cli("local", "invoke", "EchoFunction", "-t", str(TEMPLATE), "--restores", "2")
    assert proc.returncode == 2
    assert proc.stderr == "Error: --restores is for --init-type snap-start\n"


def test_cli_snapshots_says_why_they_are_off() -> None:
    proc = _cli("snapshots", env={**os.environ, "LAMBDA_SANDBOX_CRIU": "off"})
    assert proc.returncode == 1
    assert proc.stdout == (
        "SnapStart snapshots: unavailable: LAMBDA_SANDBOX_CRIU=off turns snapshots off\n"
    )


@pytest.mark.e2e
def test_cli_reports_a_bad_template(tmp_path: Path) -> None:
    proc = _cli("local", "invoke", "-t", str(tmp_path / "no.yaml"), timeout=30)
    assert proc.returncode == 2
    assert "cannot read template" in proc.stderr


@pytest.mark.e2e
def test_cli_refuses_an_event_that_is_not_json(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{not json")
    proc = _cli(
        "local", "invoke", "RaisesFunction", "-t", str(TEMPLATE), "-e", str(event), timeout=30
    )
    assert proc.returncode == 2
    assert "the event is not valid JSON" in proc.stderr


def test_usage_names_the_command_as_it_was_started() -> None:
    script = subprocess.run(
        [CONSOLE_SCRIPT, "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("usage: lambda-sandbox [-h] {snapshots,chromium,local}")
    module = _cli("local", "invoke", "--help")
    assert module.returncode == 0, module.stderr
    assert module.stdout.startswith("usage: python -m lambda_sandbox local invoke [-h]")
    assert "--layer ARN=PATH" in module.stdout


_SHARED_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:shared:7"
_APP = """\
import greet  # from the zipped layer's python/
import shared  # from the directory --layer gives for the ARN


def handler(event, context):
    return {"greeting": greet.hello(event["name"]), "shared": shared.NAME}
"""
_PROJECT_TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Parameters:
  SharedLayerArn: {{Type: String, Default: "{_SHARED_ARN}"}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.13
      Layers: [!Ref ToolsLayer, !Ref SharedLayerArn]
  ToolsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: tools.zip}}
"""


def _project(root: Path) -> Path:
    """A user's project outside this repository: a source template, its code, a zipped layer
    (the holder extension and a module) and a directory standing for a layer ARN."""
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(_APP)
    (root / "shared" / "python").mkdir(parents=True)
    (root / "shared" / "python" / "shared.py").write_text("NAME = 'shared via --layer'\n")
    entries = {
        "extensions/holder": ((HOLDER / "extensions" / "holder").read_bytes(), 0o755),
        "python/greet.py": (b"def hello(name):\n    return 'hello, ' + name\n", 0o644),
    }
    with zipfile.ZipFile(root / "tools.zip", "w") as archive:
        for name, (content, mode) in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes
            info.create_system = 3  # Unix: the mode is in external_attr's high bits
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, content)
    template = root / "template.yaml"
    template.write_text(_PROJECT_TEMPLATE)
    return template


def _without_layer_mapping() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LAMBDA_SANDBOX_LAYERS"}


@pytest.mark.e2e
def test_console_script_invokes_a_project_with_a_zipped_layer_and_a_mapped_arn(
    tmp_path: Path,
) -> None:
    template = _project(tmp_path)
    proc = subprocess.run(
        [
            CONSOLE_SCRIPT,
            "local",
            "invoke",
            "-t",
            template.name,
            "-e",
            "-",
            "--layer",
            f"{_SHARED_ARN}=shared",
        ],
        input='{"name": "sandbox"}',
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_without_layer_mapping(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"greeting": "hello, sandbox", "shared": "shared via --layer"}
    assert "[holder] holder-registered" in proc.stderr, "the zipped extension kept its 0755"
    assert "REPORT RequestId" in proc.stderr


def test_cli_names_the_layer_arn_it_has_no_content_for(tmp_path: Path) -> None:
    template = _project(tmp_path)
    proc = subprocess.run(
        [CONSOLE_SCRIPT, "local", "invoke", "-t", template],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_without_layer_mapping(),
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"Error: Fn: layer {_SHARED_ARN} (parameter SharedLayerArn) has no local content; "
        f"give it with --layer {_SHARED_ARN}=PATH (a directory or .zip) or LAMBDA_SANDBOX_LAYERS\n"
    )
