//! The registry on in-process snapshots of real probe instances: assembling with name
//! collisions, keeping the previous version serving when a new one fails, reusing unchanged
//! instances, and telling a listener what changed. No capstan process, no MCP.

use crate::common;

use std::sync::{Arc, Mutex};

use capstan::registry::{
    ChangeListener, Changes, LoadOptions, Registry, Snapshot, load_snapshot, reload_snapshot,
};

fn options(dir: &std::path::Path) -> LoadOptions {
    LoadOptions {
        plugin_dirs: vec![dir.to_path_buf()],
        egress: Default::default(),
        distribution: Default::default(),
    }
}

fn exposed_tools(snapshot: &Snapshot) -> Vec<String> {
    snapshot.tools().map(|(name, _)| name.clone()).collect()
}

#[tokio::test]
async fn a_new_instance_whose_names_collide_is_refused_and_names_the_other() {
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), "a", "probe", "prefix = \"probe\"");
    common::manifest(dir.path(), "b", "probe", "prefix = \"probe\"");
    let snapshot = load_snapshot(&common::runtime(), &options(dir.path())).await;
    assert_eq!(snapshot.instances().len(), 1);
    assert_eq!(snapshot.instances()[0].name(), "a");
    let failures = snapshot.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].manifest, dir.path().join("b.toml"));
    assert!(!failures[0].serving_previous);
    let message = failures[0].error.to_string();
    assert!(
        message.starts_with("tool name `probe_")
            && message.contains("is already served by instance `a`")
            && message.ends_with("give one of them a different `prefix`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_serving_instance_wins_over_a_newcomer_that_collides() {
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), "z", "probe", "prefix = \"probe\"");
    let runtime = common::runtime();
    let first = load_snapshot(&runtime, &options(dir.path())).await;
    assert_eq!(first.instances()[0].name(), "z");
    // `a` sorts first, but `z` is already serving.
    common::manifest(dir.path(), "a", "probe", "prefix = \"probe\"");
    let second = reload_snapshot(&runtime, &options(dir.path()), &first).await;
    assert_eq!(second.instances().len(), 1);
    assert!(Arc::ptr_eq(&second.instances()[0], &first.instances()[0]));
    assert_eq!(second.failures()[0].manifest, dir.path().join("a.toml"));
    assert!(
        second.failures()[0]
            .error
            .to_string()
            .contains("already served by instance `z`")
    );
}

#[tokio::test]
async fn a_failing_new_version_leaves_the_previous_one_serving() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::manifest(dir.path(), "probe", "probe", "");
    let runtime = common::runtime();
    let first = load_snapshot(&runtime, &options(dir.path())).await;
    assert!(first.failures().is_empty(), "{:?}", first.failures());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}[limits]\nmemory = \"lots\"\n")).unwrap();
    let second = reload_snapshot(&runtime, &options(dir.path()), &first).await;
    assert!(Arc::ptr_eq(&second.instances()[0], &first.instances()[0]));
    assert_eq!(exposed_tools(&second), exposed_tools(&first));
    let failure = &second.failures()[0];
    assert!(failure.serving_previous);
    let message = failure.error.to_string();
    assert!(
        message.starts_with("`limits.memory`: `lots` is not a size") && message.contains("64MiB"),
        "{message}"
    );
    // The manifest is gone: its instance retires, nothing fails.
    std::fs::remove_file(&path).unwrap();
    let third = reload_snapshot(&runtime, &options(dir.path()), &second).await;
    assert!(third.instances().is_empty() && third.failures().is_empty());
}

#[tokio::test]
async fn an_unchanged_manifest_keeps_its_instance_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), "probe", "probe", "");
    let runtime = common::runtime();
    let first = load_snapshot(&runtime, &options(dir.path())).await;
    let second = reload_snapshot(&runtime, &options(dir.path()), &first).await;
    assert!(Arc::ptr_eq(&second.instances()[0], &first.instances()[0]));
    let unchanged = Changes {
        tools: false,
        prompts: false,
        resources: false,
    };
    assert_eq!(second.changes_since(&first), unchanged);
    assert_eq!(
        Snapshot::default().changes_since(&Snapshot::default()),
        unchanged
    );
}

#[tokio::test]
async fn changes_follow_the_exposed_definitions_not_the_instances() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::manifest(dir.path(), "probe", "probe", "");
    let runtime = common::runtime();
    let first = load_snapshot(&runtime, &options(dir.path())).await;
    assert_eq!(
        first.changes_since(&Snapshot::default()),
        Changes {
            tools: true,
            prompts: false,
            resources: false,
        }
    );
    // A changed manifest that exposes the same tools: a new instance, the same lists.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}[limits]\ntimeout = \"5s\"\n")).unwrap();
    let second = reload_snapshot(&runtime, &options(dir.path()), &first).await;
    assert!(!Arc::ptr_eq(&second.instances()[0], &first.instances()[0]));
    assert!(!second.changes_since(&first).any());
    // Read-only hides the mutating tool.
    std::fs::write(&path, format!("{text}read_only = true\n")).unwrap();
    let third = reload_snapshot(&runtime, &options(dir.path()), &second).await;
    assert!(third.changes_since(&second).tools);
    assert!(!exposed_tools(&third).contains(&"probe_mutate".to_owned()));
    assert!(exposed_tools(&second).contains(&"probe_mutate".to_owned()));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Changes>>);

impl ChangeListener for Recorder {
    fn changed(&self, changes: Changes) {
        self.0.lock().unwrap().push(changes);
    }
}

#[tokio::test]
async fn replacing_a_snapshot_tells_the_listener_only_about_changes() {
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), "probe", "probe", "");
    let runtime = common::runtime();
    let recorder = Arc::new(Recorder::default());
    let registry = Registry::with_listener(recorder.clone());
    let loaded = load_snapshot(&runtime, &options(dir.path())).await;
    registry.replace(loaded);
    let again = reload_snapshot(&runtime, &options(dir.path()), &registry.snapshot()).await;
    registry.replace(again);
    let previous = registry.replace(Snapshot::default());
    assert_eq!(previous.instances().len(), 1);
    let told = Changes {
        tools: true,
        prompts: false,
        resources: false,
    };
    assert_eq!(*recorder.0.lock().unwrap(), [told, told]);
}

#[cfg(unix)]
#[tokio::test]
async fn a_plugin_folder_others_may_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    common::manifest(dir.path(), "probe", "probe", "");
    for mode in [0o775, 0o757, 0o1777] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        let snapshot = load_snapshot(&common::runtime(), &options(dir.path())).await;
        assert!(snapshot.instances().is_empty(), "mode {mode:o}");
        let failure = snapshot.failures()[0].error.to_string();
        assert!(
            failure.contains("writable by other users") && failure.contains("chmod go-w"),
            "{failure}"
        );
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let snapshot = load_snapshot(&common::runtime(), &options(dir.path())).await;
    assert!(snapshot.failures().is_empty(), "{:?}", snapshot.failures());
    assert!(!exposed_tools(&snapshot).is_empty());
}
