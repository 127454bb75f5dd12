"""template.yaml's operations: alarms and their topic, saved queries, the dashboard, API access logs.

cfn-lint checks the shapes; these check that every alarm the runbook promises exists,
watches what it says, pages through the topic, has its saved query and a runbook section.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infrastructure.sam_template import REPO_ROOT, Template, getatt_target, ref_target, resources_of_type

RUNBOOK = REPO_ROOT / "docs" / "runbook.md"

# alarm → (namespace, metric, the resource its dimension names, its saved query)
ALARMS = {
    "TaskDeadLetterAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "TaskDeadLetterQueue",
        "TaskDeadLetterQuery",
    ),
    "IngestDeadLetterAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "IngestDeadLetterQueue",
        "IngestDeadLetterQuery",
    ),
    "TaskQueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "TaskQueue", "TaskQueueAgeQuery"),
    "ProcessorErrorsAlarm": ("AWS/Lambda", "Errors", "ProcessorFunction", "ProcessorErrorsQuery"),
    "ProcessorThrottlesAlarm": ("AWS/Lambda", "Throttles", "ProcessorFunction", "ProcessorThrottlesQuery"),
    "ApiErrorRateAlarm": ("AWS/ApiGateway", "5XXError", "AWS::StackName", "ApiErrorRateQuery"),
    "FailedTaskRateAlarm": ("pixelmill", "TaskFailed", "", "FailedTaskRateQuery"),
}


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {name: alarm["Properties"] for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items()}


def _target(value: Any) -> str | None:
    attribute = getatt_target(value)
    return attribute[0] if attribute else ref_target(value)


def test_every_alarm_exists_and_nothing_else(template: Template) -> None:
    assert set(_alarms(template)) == set(ALARMS)


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_each_alarm_watches_its_metric_and_pages_the_topic(template: Template, alarm: str) -> None:
    properties = _alarms(template)[alarm]
    namespace, metric, target, _ = ALARMS[alarm]
    if "Metrics" in properties:  # metric math
        stats = [query["MetricStat"]["Metric"] for query in properties["Metrics"] if "MetricStat" in query]
        assert (namespace, metric) in {(stat["Namespace"], stat["MetricName"]) for stat in stats}
    else:
        assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
        assert target in {_target(dimension["Value"]) for dimension in properties["Dimensions"]}
    assert [ref_target(action) for action in properties["AlarmActions"]] == ["AlarmTopic"]
    assert properties["TreatMissingData"] == "notBreaching"


def test_queue_age_and_rates_are_parameters(template: Template) -> None:
    alarms = _alarms(template)
    assert ref_target(alarms["TaskQueueAgeAlarm"]["Threshold"]) == "TaskQueueAgeAlarmSeconds"
    assert ref_target(alarms["ApiErrorRateAlarm"]["Threshold"]) == "ApiErrorRateAlarmThreshold"
    assert alarms["ApiErrorRateAlarm"]["Statistic"] == "Average"  # of 0/1 per request: a rate
    assert ref_target(alarms["FailedTaskRateAlarm"]["Threshold"]) == "FailedTaskRateAlarmThreshold"
    [rate] = [query for query in alarms["FailedTaskRateAlarm"]["Metrics"] if query.get("ReturnData")]
    assert "failed" in rate["Expression"]
    assert "done" in rate["Expression"]
    # The rate reads the service-wide totals the code publishes next to the per-function ones.
    for query in alarms["FailedTaskRateAlarm"]["Metrics"]:
        if "MetricStat" in query:
            assert query["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "service", "Value": "pixelmill"}]


def test_alarm_topic_with_an_optional_email(template: Template) -> None:
    assert resources_of_type(template, "AWS::SNS::Topic").keys() == {"AlarmTopic"}
    [subscription] = resources_of_type(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert ref_target(subscription["Properties"]["TopicArn"]) == "AlarmTopic"
    assert ref_target(subscription["Properties"]["Endpoint"]) == "AlarmEmail"
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def _dashboard(template: Template) -> tuple[str, dict[str, Any]]:
    [dashboard] = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body: str = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    return body, json.loads(re.sub(r"\$\{[^}]+\}", "x", body))


def test_dashboard_shows_the_alarms_throughput_and_duration_percentiles_by_function(template: Template) -> None:
    body, document = _dashboard(template)
    # Every alarm, in the alarm widget
    for alarm in ALARMS:
        assert f"${{{alarm}.Arn}}" in body, alarm
    titles = [widget["properties"].get("title", "") for widget in document["widgets"]]
    assert any(title.startswith("Throughput") for title in titles)
    # p50 and p95 of the processing duration, one line per function_type
    for stat in ("p50", "p95"):
        assert f"SEARCH('{{pixelmill,function_type,service}} MetricName=\"ProcessingDuration\"', '{stat}', 300)" in (
            json.dumps(document["widgets"]).replace('\\"', '"')
        ), stat


def test_api_access_logs_are_json_with_the_request_id_and_the_caller(template: Template) -> None:
    api = template["Resources"]["Api"]["Properties"]
    setting = api["AccessLogSetting"]
    assert getatt_target(setting["DestinationArn"]) == ("ApiAccessLogGroup", "Arn")
    line = json.loads(setting["Format"])
    assert line["requestId"] == "$context.requestId"
    assert line["caller"] == "$context.identity.caller"
    assert line["userArn"] == "$context.identity.userArn"
    assert line["status"] == "$context.status"
    group = template["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert ref_target(group["RetentionInDays"]) == "LogRetentionDays"
    # API Gateway needs the account's CloudWatch role before it can write them
    assert template["Resources"]["Api"]["DependsOn"] == "ApiGatewayAccount"
    assert ref_target(api["Name"]) == "AWS::StackName"  # the ApiName the alarm and dashboard use


def test_every_alarm_has_a_saved_query_and_a_runbook_section(template: Template) -> None:
    queries = resources_of_type(template, "AWS::Logs::QueryDefinition")
    assert set(queries) == {query for *_, query in ALARMS.values()}
    runbook = RUNBOOK.read_text()
    for alarm, (*_, query) in ALARMS.items():
        properties = queries[query]["Properties"]
        name = properties["Name"]["Fn::Sub"].replace("${AWS::StackName}", "")
        assert f"`{alarm}`" in runbook, alarm
        assert name in runbook, (alarm, name)
        # The runbook shows the query as committed
        assert properties["QueryString"].strip() in runbook, query
        for group in properties["LogGroupNames"]:
            assert ref_target(group) in template["Resources"], group
