//! Automated sync, and `set_automated_sync`. Argo CD refuses a rollback while automated sync is
//! on (FailedPrecondition "rollback cannot be initiated when auto-sync is enabled") and never
//! turns it back on after one (argo-cd #10002): the rollbacks of this plugin turn it off first,
//! keeping its settings in the spec (`automated.enabled: false`, the field Argo CD 3.1 added;
//! its UI does the same before a rollback), and tell the agent how to turn it on again once Git
//! holds a good revision.

use capstan_sdk::{Context, Tool, ToolError, ToolResult, Value, json};

use crate::params::AppRef;
use crate::schema::{app_properties, object, props};
use crate::summary::{self, text_or, wide_row};

/// The settings of automated sync (`spec.syncPolicy.automated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Automated {
    pub prune: bool,
    pub self_heal: bool,
    pub allow_empty: bool,
}

impl Automated {
    /// The settings an application's spec holds, whether automated sync is on or not.
    pub(crate) fn of(app: &Value) -> Self {
        let automated = &app["spec"]["syncPolicy"]["automated"];
        let flag = |key: &str| automated[key].as_bool().unwrap_or(false);
        Self {
            prune: flag("prune"),
            self_heal: flag("selfHeal"),
            allow_empty: flag("allowEmpty"),
        }
    }

    /// As the spec spells them.
    pub(crate) fn json(&self) -> Value {
        json!({"prune": self.prune, "selfHeal": self.self_heal, "allowEmpty": self.allow_empty})
    }

    /// `prune, selfHeal` (the settings that are on), or `no prune, no self-heal`.
    pub(crate) fn describe(&self) -> String {
        let on: Vec<&str> = [
            (self.prune, "prune"),
            (self.self_heal, "selfHeal"),
            (self.allow_empty, "allowEmpty"),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| *name)
        .collect();
        if on.is_empty() {
            "no prune, no self-heal".to_owned()
        } else {
            on.join(", ")
        }
    }
}

/// The settings of automated sync when it is on: `syncPolicy.automated` is set and not
/// `enabled: false` (Argo CD's `IsAutomatedSyncEnabled`).
pub(crate) fn active(app: &Value) -> Option<Automated> {
    let automated = &app["spec"]["syncPolicy"]["automated"];
    (automated.is_object() && automated["enabled"] != false).then(|| Automated::of(app))
}

/// Merge-patches `spec.syncPolicy.automated` (ApplicationService_Patch, as update_application
/// does) and returns the application as patched.
fn patch(app_ref: &AppRef<'_>, automated: Value) -> Result<Value, ToolError> {
    crate::overrides::merge_patch(
        app_ref,
        &json!({"spec": {"syncPolicy": {"automated": automated}}}),
    )
}

/// Turns automated sync off and keeps its settings in the spec (`enabled: false`). An Argo CD
/// older than 3.1 drops `enabled`; then `automated` is removed, as `argocd app set --sync-policy
/// none` does. Returns the application as patched.
pub(crate) fn turn_off(app_ref: &AppRef<'_>) -> Result<Value, ToolError> {
    let patched = patch(app_ref, json!({"enabled": false}))?;
    if active(&patched).is_none() {
        return Ok(patched);
    }
    patch(app_ref, Value::Null)
}

/// Turns automated sync on with `settings`.
pub(crate) fn turn_on(app_ref: &AppRef<'_>, settings: &Automated) -> Result<Value, ToolError> {
    let mut automated = settings.json();
    automated["enabled"] = json!(true);
    patch(app_ref, automated)
}

/// The set_automated_sync arguments that turn automated sync on again with `settings`.
pub(crate) fn restore_arguments(app_ref: &AppRef<'_>, settings: &Automated) -> Value {
    let mut arguments = json!({"target": app_ref.client.target(), "applicationName": app_ref.name,
                               "enabled": true});
    if let Some(namespace) = app_ref.namespace {
        arguments["applicationNamespace"] = json!(namespace);
    }
    if let (Some(arguments), Value::Object(settings)) = (arguments.as_object_mut(), settings.json())
    {
        arguments.extend(settings);
    }
    arguments
}

/// What an answer says after a rollback turned automated sync off: that it is off, what it
/// was, and the exact call that turns it on again.
pub(crate) fn turned_off_report(app_ref: &AppRef<'_>, settings: &Automated) -> Value {
    let restore = restore_arguments(app_ref, settings);
    json!({
        "enabled": false, "turnedOff": true, "was": settings.json(),
        "restore": {"tool": "set_automated_sync", "arguments": restore},
        "message": format!(
            "Automated sync of {} is now OFF: Argo CD refuses a rollback while it is on and does not turn \
             it back on afterwards, so the rolled-back deployment stays as it is. Once the fix is in Git \
             (or the application's source points at a good revision), turn it on again with \
             set_automated_sync {restore}; turned on earlier, it syncs the revision that degraded again.",
            app_ref.name
        ),
    })
}

/// The schema of an answer's `automatedSync`.
pub(crate) fn report_schema() -> Value {
    json!({"type": "object", "description": "Set when the call turned automated sync off: its earlier settings (`was`), and `restore`, the set_automated_sync call that turns it on again.",
           "properties": {"enabled": {"type": "boolean"}, "turnedOff": {"type": "boolean"},
                          "was": {"type": "object"}, "restore": {"type": "object"},
                          "message": {"type": "string"}}})
}

pub(crate) fn tool() -> Tool {
    Tool::new(
        "set_automated_sync",
        "Turns an Argo CD application's automated sync on or off (`argocd app set --sync-policy`). \
         Off keeps the settings in the spec (`automated.enabled: false`), so turning it on again \
         without `prune`/`selfHeal`/`allowEmpty` restores them. Use it after a rollback (which turns \
         automated sync off) once Git holds a good revision: turned on, Argo CD syncs the app to \
         what Git holds whenever it is OutOfSync, pruning if `prune` is set.",
    )
    .title("Turn automated sync on or off")
    .input(object(
        props(&[
            app_properties(),
            json!({
                "enabled": {"type": "boolean", "description": "true turns automated sync on, false off."},
                "prune": {"type": "boolean", "description": "Delete objects no longer in Git when syncing automatically (default: as the spec says)."},
                "selfHeal": {"type": "boolean", "description": "Undo changes made in the cluster (default: as the spec says)."},
                "allowEmpty": {"type": "boolean", "description": "Allow syncing to no objects at all (default: as the spec says)."},
            }),
        ]),
        &["applicationName", "enabled"],
    ))
    .output(object(
        json!({"target": {"type": "string"}, "application": {"type": "string"},
               "automatedSync": {"type": "object", "properties": {
                   "enabled": {"type": "boolean"}, "prune": {"type": "boolean"},
                   "selfHeal": {"type": "boolean"}, "allowEmpty": {"type": "boolean"}}},
               "summary": summary::row_schema(), "message": {"type": "string"}}),
        &["target", "application", "automatedSync", "summary", "message"],
    ))
    .destructive(true)
    .idempotent(true)
}

pub(crate) fn call(ctx: &Context, arguments: &Value) -> Result<ToolResult, ToolError> {
    let app_ref = AppRef::from(ctx, arguments)?;
    let enable = arguments["enabled"].as_bool().unwrap_or(false);
    let app = if enable {
        let mut automated = json!({"enabled": true});
        for key in ["prune", "selfHeal", "allowEmpty"] {
            if let Some(value) = arguments[key].as_bool() {
                automated[key] = json!(value);
            }
        }
        patch(&app_ref, automated)?
    } else {
        turn_off(&app_ref)?
    };
    let settings = Automated::of(&app);
    let on = active(&app).is_some();
    let mut state = settings.json();
    state["enabled"] = json!(on);
    let sync = text_or(&app["status"]["sync"]["status"], "Unknown");
    let message = if on {
        let source = match &app["spec"]["source"] {
            Value::Null => &app["spec"]["sources"][0],
            source => source,
        };
        let mut message = format!(
            "Automated sync of {} is on ({}): Argo CD syncs it to `{}` whenever it is OutOfSync.",
            app_ref.name,
            settings.describe(),
            text_or(&source["targetRevision"], "HEAD")
        );
        if sync == "OutOfSync" {
            message.push_str(
                " It is OutOfSync now, so Argo CD starts a sync shortly; follow it with get_application.",
            );
        }
        message
    } else if app["spec"]["syncPolicy"]["automated"].is_object() {
        format!(
            "Automated sync of {} is off; its settings ({}) stay in the spec, and set_automated_sync with \
             enabled: true turns it on with them.",
            app_ref.name,
            settings.describe()
        )
    } else {
        format!(
            "Automated sync of {} is off. This Argo CD keeps no settings for it when it is off: pass \
             prune and selfHeal when turning it on again.",
            app_ref.name
        )
    };
    Ok(ToolResult::structured(json!({
        "target": app_ref.client.target(), "application": app_ref.name,
        "automatedSync": state, "summary": wide_row(&app), "message": message,
    })))
}
