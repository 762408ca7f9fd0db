//! The tools the plugin lists, and calls to a tool it does not have.

use capstan_sdk::{Plugin, json};

use super::*;

#[test]
fn every_tool_is_listed_once_under_its_name() {
    let names: Vec<String> = Rollouts::toolbox()
        .tools()
        .iter()
        .map(|tool| tool.name().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "list_rollouts",
            "get_rollout",
            "list_analysis_runs",
            "get_analysis_run",
            "list_experiments",
            "promote",
            "promote_full",
            "pause",
            "resume",
            "abort",
            "retry",
            "restart",
            "set_image",
            "undo",
            "terminate_analysis_run",
            "retry_experiment",
            "terminate_experiment",
        ]
    );
}

#[test]
fn an_unknown_tool_names_those_there_are() {
    let fixture = fixture();
    let message = error(&fixture, "delete_rollout", json!({}));
    assert_eq!(
        message,
        "the Argo Rollouts plugin has no tool `delete_rollout`; it has list_rollouts, get_rollout, \
         list_analysis_runs, get_analysis_run, list_experiments, promote, promote_full, pause, \
         resume, abort, retry, restart, set_image, undo, terminate_analysis_run, \
         retry_experiment, terminate_experiment"
    );
    assert!(fixture.requests().is_empty());
}
