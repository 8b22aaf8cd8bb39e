"""The local cloud reads a nested application's template as part of its parent, as CloudFormation nests it."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_cloud.template import Template

PARENT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Watch:
    Type: String
    Default: "yes"
Conditions:
  Watching: !Equals [!Ref Watch, "yes"]
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Watcher:
    Type: AWS::Serverless::Application
    Condition: Watching
    Properties:
      Location: nested/watcher.yaml
      Parameters:
        ServiceName: !Ref AWS::StackName
        QueueName: !GetAtt Queue.QueueName
        Watch: !Ref Watch
Outputs:
  AlarmName:
    Value: !GetAtt Watcher.Outputs.AlarmName
  AlarmConsole:
    Value: !Sub https://console.example/${Watcher.Outputs.AlarmName}?by=${Watcher.Outputs.Watched}
"""

NESTED = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ServiceName:
    Type: String
  QueueName:
    Type: String
  Threshold:
    Type: Number
    Default: 5
  Watch:
    Type: String
Conditions:
  Watching: !Equals [!Ref Watch, "yes"]
Resources:
  DepthAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub ${ServiceName}-${QueueName}-depth
      Threshold: !Ref Threshold
      Dimensions:
        - {Name: QueueName, Value: !Ref QueueName}
Outputs:
  AlarmName:
    Value: !Ref DepthAlarm
  Watched:
    Value: !Sub ${QueueName}-watched
"""


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "watcher.yaml").write_text(NESTED)
    (tmp_path / "template.yaml").write_text(PARENT)
    return tmp_path / "template.yaml"


def test_a_nested_templates_resources_join_the_parent_with_the_values_it_passes(parent: Path) -> None:
    template = Template.load(parent)
    assert "Watcher" not in template.resources
    alarm = template.resources["DepthAlarm"]
    assert alarm["Condition"] == "Watching", "a conditional application's resources share its condition"
    # What the parent passes stands where the nested template names its parameter; a default stays.
    assert alarm["Properties"]["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-${Queue.QueueName}-depth"}
    assert alarm["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}]
    assert alarm["Properties"]["Threshold"] == 5
    assert template.outputs["AlarmName"] == {"Ref": "DepthAlarm"}, "a nested output read by the parent is its value"


def test_a_nested_logical_id_that_is_also_the_parents_is_refused(parent: Path) -> None:
    nested = parent.parent / "nested" / "watcher.yaml"
    nested.write_text(NESTED.replace("DepthAlarm", "Queue"))
    with pytest.raises(ValueError, match="Queue is also a logical id of its parent"):
        Template.load(parent)


def test_a_nested_output_in_a_parents_sub_is_its_value(parent: Path) -> None:
    """`${App.Outputs.X}` in a Fn::Sub: a Ref or GetAtt output inlined as its `${...}`, any other as a variable."""
    template = Template.load(parent)
    assert template.outputs["AlarmConsole"] == {
        "Fn::Sub": [
            "https://console.example/${DepthAlarm}?by=${WatcherOutputsWatched}",
            {"WatcherOutputsWatched": {"Fn::Sub": "${Queue.QueueName}-watched"}},
        ]
    }
    template.physical_ids["DepthAlarm"] = "orders-local-queue-depth"
    template.attributes[("Queue", "QueueName")] = "orders-local-queue"
    assert template.resolve(template.outputs["AlarmConsole"]) == (
        "https://console.example/orders-local-queue-depth?by=orders-local-queue-watched"
    )


def test_a_condition_the_parent_defines_alike_is_one_condition(parent: Path) -> None:
    """The nested Watching tests the Watch the parent passes down: the parent's own test, under its name."""
    template = Template.load(parent)
    assert template.conditions["Watching"] == {"Fn::Equals": [{"Ref": "Watch"}, "yes"]}
    assert template.condition("Watching") is True


def test_a_condition_the_parent_defines_otherwise_is_refused(parent: Path) -> None:
    nested = parent.parent / "nested" / "watcher.yaml"
    nested.write_text(NESTED.replace('Watching: !Equals [!Ref Watch, "yes"]', 'Watching: !Equals [!Ref Watch, "no"]'))
    with pytest.raises(ValueError, match="condition Watching is also one of its parent's, defined otherwise"):
        Template.load(parent)
