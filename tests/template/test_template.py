"""template.yaml: valid for SAM and cfn-lint, and wired as the README says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from demo import runner
from lambda_sandbox import load_template
from lambda_warmup import SettingsError
from lambda_warmup._settings import parse_duration
from tests.support.paths import REPO
from tests.support.sam import PYTHON_VERSION, cfn_lint, sam_validate

TEMPLATE = REPO / "template.yaml"


def _template() -> dict[str, Any]:
    return load_template(TEMPLATE).document


def test_sam_validate_lint(sam_bin: Path) -> None:
    sam_validate(sam_bin, TEMPLATE)


def test_cfn_lint(sam_bin: Path) -> None:
    cfn_lint(sam_bin, TEMPLATE)


def test_warming_timeout_is_a_parameter_wired_to_every_function() -> None:
    doc = _template()
    param = doc["Parameters"]["WarmingTimeout"]
    default = parse_duration("WARMING_TIMEOUT", param["Default"])
    assert 0 < default <= 10.0  # a hold, cut to the on-demand INIT budget anyway
    # CloudFormation's AllowedPattern accepts what the extension and the library parse.
    for good in [param["Default"], "0", "2500", "2500ms", "2.5s", "1m", " 3 s "]:
        assert re.fullmatch(param["AllowedPattern"], good), good
        parse_duration("WARMING_TIMEOUT", good)
    for bad in ["", "-1", "1h", "2.5S", "fast", ".5s"]:
        assert not re.fullmatch(param["AllowedPattern"], bad), bad
        with pytest.raises(SettingsError):
            parse_duration("WARMING_TIMEOUT", bad)
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["WARMING_TIMEOUT"] == {"Ref": "WarmingTimeout"}
    functions = [r for r in doc["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 4
    for fn in functions:
        assert "WARMING_TIMEOUT" not in fn["Properties"].get("Environment", {}).get("Variables", {})
        assert fn["Properties"].get("Layers", doc["Globals"]["Function"]["Layers"]) == [
            {"Ref": "WarmupLayer"}
        ]


def test_local_aws_endpoint_is_unset_on_aws() -> None:
    """``AWS_ENDPOINT_URL`` exists only when ``LocalAwsEndpoint`` is given (moto, LocalStack)."""
    doc = _template()
    assert doc["Parameters"]["LocalAwsEndpoint"]["Default"] == ""
    assert doc["Conditions"]["UseLocalAwsEndpoint"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "LocalAwsEndpoint"}, ""]}]
    }
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["AWS_ENDPOINT_URL"] == {
        "Fn::If": ["UseLocalAwsEndpoint", {"Ref": "LocalAwsEndpoint"}, {"Ref": "AWS::NoValue"}]
    }


def test_runtime_layer_and_outputs_agree() -> None:
    doc = _template()
    runtime = doc["Globals"]["Function"]["Runtime"]
    assert runtime == f"python{PYTHON_VERSION}"
    layer = doc["Resources"]["WarmupLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"] == {"BuildMethod": "makefile"}
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert layer["Properties"]["ContentUri"] == "layer/"
    makefile = (REPO / "layer" / "Makefile").read_text()
    assert f"PYTHON_VERSION ?= {PYTHON_VERSION}\n" in makefile
    assert "build-%:" in makefile  # any logical id: sam build runs build-<LogicalId>
    assert doc["Outputs"]["WarmupLayerArn"]["Value"] == {"Ref": "WarmupLayer"}


@pytest.mark.parametrize(
    ("sample", "module"),
    [
        ("quotes", "quotes_async"),
        ("quotes", "quotes_sync"),
        ("orders", "orders_app"),
        ("web", "web_app"),
    ],
)
def test_sample_handlers_exist(sample: str, module: str) -> None:
    doc = _template()
    code = {
        r["Properties"]["Handler"]: r["Properties"].get(
            "CodeUri", doc["Globals"]["Function"]["CodeUri"]
        )
        for r in doc["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert code[f"{module}.handler"] == f"samples/{sample}/"
    assert (REPO / "samples" / sample / f"{module}.py").is_file()
    assert (REPO / "samples" / sample / "requirements.txt").is_file()


def test_samples_name_their_powertools_service_and_metrics_namespace() -> None:
    """The samples' Powertools ``Logger()`` and ``Metrics()`` take both from these variables."""
    doc = _template()
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LambdaWarmupSamples"
    services = {
        name: r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for name, r in doc["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert services == {
        "QuotesAsyncFunction": "quotes",
        "QuotesSyncFunction": "quotes",
        "OrdersFunction": "orders",
        "WebFunction": "web",
    }


def test_orders_function_gets_its_database_and_queue() -> None:
    """The orders sample reads ``DATABASE_URL`` (a parameter) and ``ORDERS_QUEUE_URL`` (the
    stack's queue), may send to that queue and read its attributes only, and shares the quotes
    API's settings."""
    doc = _template()
    fn = doc["Resources"]["OrdersFunction"]["Properties"]
    assert fn["Environment"]["Variables"] == {
        "DATABASE_URL": {"Ref": "OrdersDatabaseUrl"},
        "ORDERS_QUEUE_URL": {"Ref": "OrdersQueue"},
        "POWERTOOLS_SERVICE_NAME": "orders",
    }
    assert doc["Resources"]["OrdersQueue"]["Type"] == "AWS::SQS::Queue"
    assert doc["Parameters"]["OrdersDatabaseUrl"]["NoEcho"] is True
    policies = {name for policy in fn["Policies"] for name in policy}
    assert policies == {
        "SSMParameterReadPolicy",
        "AWSSecretsManagerGetSecretValuePolicy",
        "SQSSendMessagePolicy",
        "Statement",  # sqs:GetQueueAttributes, for the init's check of the queue
    }
    (statement,) = next(p["Statement"] for p in fn["Policies"] if "Statement" in p)
    assert statement["Action"] == "sqs:GetQueueAttributes"
    assert statement["Resource"] == {"Fn::GetAtt": ["OrdersQueue", "Arn"]}
    event = json.loads((REPO / "samples" / "events" / "order.json").read_text())
    assert event == runner.ORDER_EVENT  # what the demo and the e2e tests send


def test_web_function_is_a_function_url_with_the_database_and_the_quotes_api() -> None:
    """The web sample (FastAPI) answers its function URL (IAM-signed), reads ``DATABASE_URL``
    and the quotes API's settings, and nothing else."""
    doc = _template()
    fn = doc["Resources"]["WebFunction"]["Properties"]
    assert fn["FunctionUrlConfig"] == {"AuthType": "AWS_IAM"}
    assert fn["Environment"]["Variables"] == {
        "DATABASE_URL": {"Ref": "OrdersDatabaseUrl"},
        "POWERTOOLS_SERVICE_NAME": "web",
    }
    policies = {name for policy in fn["Policies"] for name in policy}
    assert policies == {"SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy"}
    event = json.loads((REPO / "samples" / "events" / "web.json").read_text())
    assert event == runner.WEB_EVENT  # what the demo and the e2e tests send
