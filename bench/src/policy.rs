//! A policy decision (`access::Policy::decide`) with 1,000 generated rules, against the same
//! decision with one rule, in process. The rules have the shapes a real policy has: teams
//! reading their instances, teams syncing one tool on one target, SRE groups syncing prod with
//! confirmation, forbids on prod deletes and CI keys; the requests cycle through callers with
//! two or three groups and tools of several instances.

use std::fmt::Write as _;
use std::time::Instant;

use capstan::access::{Policy, Request, ToolFacts};
use capstan::caller::{Caller, CallerKind};
use serde_json::{Value, json};

use crate::stats::Sample;

const TEAMS: usize = 40;
const INSTANCES: usize = 25;
const TOOLS: &[(&str, bool, bool)] = &[
    ("get_application", true, false),
    ("list_applications", true, false),
    ("sync_application", false, true),
    ("delete_application", false, true),
    ("refresh_application", false, false),
    ("rollback_application", false, true),
];
const TARGETS: &[&str] = &["prod", "staging", "dev"];

/// (one rule, 1,000 rules): the median decision time over `calls` decisions each.
pub fn measure(calls: usize) -> anyhow::Result<(Sample, Sample)> {
    let one = Policy::from_text(
        "permit(principal in Capstan::Group::\"team-1\", action, resource) when { resource.readOnly };",
    )?;
    let many = Policy::from_text(&rules(1000))?;
    anyhow::ensure!(many.rules() == 1000, "generated {} rules", many.rules());
    let requests = requests();
    Ok((
        decide(&one, &requests, calls),
        decide(&many, &requests, calls),
    ))
}

fn decide(policy: &Policy, requests: &[(Caller, ToolFacts, &str, Value)], calls: usize) -> Sample {
    let ask = |(caller, tool, target, arguments): &(Caller, ToolFacts, &str, Value)| {
        policy.decide(&Request {
            caller,
            tool,
            target: Some(target),
            arguments,
        })
    };
    for request in requests {
        std::hint::black_box(ask(request));
    }
    let mut sample = Sample::default();
    for request in requests.iter().cycle().take(calls) {
        let started = Instant::now();
        std::hint::black_box(ask(request));
        sample.push(started.elapsed());
    }
    sample
}

/// `count` rules of the shapes above, with distinct `@id`s.
pub fn rules(count: usize) -> String {
    let mut text = String::new();
    for n in 0..count {
        let team = n % TEAMS;
        let instance = (n / TEAMS) % INSTANCES;
        let (tool, _, _) = TOOLS[n % TOOLS.len()];
        let target = TARGETS[n % TARGETS.len()];
        let id = format!("rule-{n}");
        let rule = match n % 5 {
            0 => format!(
                "permit(principal in Capstan::Group::\"team-{team}\", action in Capstan::Action::\"call\", resource in Capstan::Instance::\"inst{instance}\") when {{ resource.readOnly }};"
            ),
            1 => format!(
                "permit(principal in Capstan::Group::\"team-{team}\", action in Capstan::Action::\"call\", resource == Capstan::Tool::\"inst{instance}_{tool}\") when {{ context has target && context.target == \"{target}\" }};"
            ),
            2 => format!(
                "@confirm(\"sync {{tool}} on {{target}}?\")\npermit(principal in Capstan::Group::\"sre-{team}\", action in Capstan::Action::\"call\", resource in Capstan::Instance::\"inst{instance}\") when {{ context has target && context.target == \"prod\" && !resource.readOnly }};"
            ),
            3 => format!(
                "@advice(\"ask #platform-sre\")\nforbid(principal in Capstan::Group::\"team-{team}\", action == Capstan::Action::\"call\", resource in Capstan::Instance::\"inst{instance}\") when {{ context has target && context.target == \"prod\" && resource.destructive && resource.name like \"*delete*\" }};"
            ),
            _ => format!(
                "permit(principal == Capstan::User::\"ci-{team}\", action in Capstan::Action::\"call\", resource == Capstan::Tool::\"inst{instance}_sync_application\") when {{ principal.kind == \"apiKey\" && context has target && context.target == \"staging\" && !(context.arguments has prune && context.arguments.prune == true) }};"
            ),
        };
        let _ = writeln!(text, "@id(\"{id}\")\n{rule}");
    }
    text
}

fn requests() -> Vec<(Caller, ToolFacts, &'static str, Value)> {
    (0..64)
        .map(|n| {
            let team = (n * 7) % TEAMS;
            let groups = [
                format!("team-{team}"),
                format!("sre-{}", (team + 3) % TEAMS),
                "everyone".to_owned(),
            ];
            let caller = Caller {
                subject: format!("user-{n}"),
                name: Some(format!("User {n}")),
                groups: groups[..2 + n % 2].to_vec(),
                client_id: Some("claude".into()),
                scopes: vec!["capstan:tools".into()],
                kind: CallerKind::Token {
                    issuer: "https://id.example".into(),
                },
                token: None,
            };
            let (tool, read_only, destructive) = TOOLS[n % TOOLS.len()];
            let instance = (n * 3) % INSTANCES;
            let tool = ToolFacts {
                exposed: format!("inst{instance}_{tool}"),
                instance: format!("inst{instance}"),
                name: tool.to_owned(),
                read_only,
                destructive,
                idempotent: false,
            };
            let arguments =
                json!({"name": format!("app-{n}"), "prune": n % 2 == 0, "revision": "HEAD"});
            (caller, tool, TARGETS[n % TARGETS.len()], arguments)
        })
        .collect()
}
