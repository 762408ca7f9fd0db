//! Keeps the end-to-end tests from silently testing old builds: before a test process first uses
//! `target/release/capstan` or a plugin component, the newest modification time among the files
//! it is built from is compared with the artifact's; when a source is newer (or the artifact is
//! missing), it is rebuilt (by cargo, or by Node for the JavaScript plugin), and when that fails
//! the test panics saying what is stale and what to run.
//!
//! Cargo leaves an artifact's modification time alone when nothing changed, so after a rebuild
//! the artifacts are given (at least) the modification time of the newest source that was seen
//! before the build: a source that was touched without a change does not cause a rebuild on every
//! run, while one edited during the build is still newer afterwards and causes the next one.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The most recently modified of a build's sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewestSource {
    pub(crate) path: PathBuf,
    pub(crate) modified: SystemTime,
}

impl NewestSource {
    /// Keeps `path` if it was modified after the current newest.
    fn consider(newest: &mut Option<Self>, path: &Path, modified: SystemTime) {
        if newest
            .as_ref()
            .is_none_or(|current| modified > current.modified)
        {
            *newest = Some(Self {
                path: path.to_path_buf(),
                modified,
            });
        }
    }
}

/// Whether a build's artifacts are up to date with its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Every artifact is at least as new as every source.
    Fresh,
    /// An artifact does not exist.
    Missing { artifact: PathBuf },
    /// `source` was modified after `artifact` (the oldest artifact) was built.
    Stale { artifact: PathBuf, source: PathBuf },
}

impl std::fmt::Display for Freshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fresh => write!(f, "up to date"),
            Self::Missing { artifact } => write!(f, "{} is missing", artifact.display()),
            Self::Stale { artifact, source } => write!(
                f,
                "{} is older than {}",
                artifact.display(),
                source.display()
            ),
        }
    }
}

/// The staleness decision. `artifacts` are the build's outputs with their modification times
/// (`None`: missing); an empty list counts as missing `fallback`. Stale when the newest source
/// is newer than the oldest artifact; an artifact exactly as new as the newest source is fresh.
pub(crate) fn decide(
    artifacts: &[(PathBuf, Option<SystemTime>)],
    newest: Option<&NewestSource>,
    fallback: &Path,
) -> Freshness {
    let mut oldest: Option<(&Path, SystemTime)> = None;
    for (artifact, modified) in artifacts {
        let Some(modified) = *modified else {
            return Freshness::Missing {
                artifact: artifact.clone(),
            };
        };
        if oldest.is_none_or(|(_, current)| modified < current) {
            oldest = Some((artifact, modified));
        }
    }
    let Some((artifact, built)) = oldest else {
        return Freshness::Missing {
            artifact: fallback.to_path_buf(),
        };
    };
    match newest {
        Some(source) if source.modified > built => Freshness::Stale {
            artifact: artifact.to_path_buf(),
            source: source.path.clone(),
        },
        _ => Freshness::Fresh,
    }
}

/// Folds the modification time of `path` (a file) into `newest`; a missing file is skipped.
fn consider_file(path: &Path, newest: &mut Option<NewestSource>) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(metadata) => {
            NewestSource::consider(newest, path, metadata.modified()?);
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io::Error::new(
            error.kind(),
            format!("{}: {error}", path.display()),
        )),
    }
}

/// Folds into `newest` every file and folder below `root` (and `root` itself) whose path
/// relative to `root` satisfies `include`, skipping `target`, `.git` and `node_modules`
/// folders. Folders count too: removing or adding a file changes its folder's modification time.
/// A missing `root` is skipped.
fn walk(
    root: &Path,
    include: &dyn Fn(&Path, bool) -> bool,
    newest: &mut Option<NewestSource>,
) -> io::Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    if include(Path::new(""), true) {
        consider_file(root, newest)?;
    }
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", dir.display())))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let is_dir = entry.file_type()?.is_dir();
            if is_dir
                && matches!(
                    entry.file_name().to_str(),
                    Some("target" | ".git" | "node_modules")
                )
            {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path);
            if include(relative, is_dir) {
                consider_file(&path, newest)?;
            }
            if is_dir {
                pending.push(path);
            }
        }
    }
    Ok(())
}

/// Everything below the walked folder.
fn everything(_: &Path, _: bool) -> bool {
    true
}

/// `**/src/**` and `**/Cargo.toml` below the walked folder.
fn crate_sources(relative: &Path, is_dir: bool) -> bool {
    relative.components().any(|part| part.as_os_str() == "src")
        || (!is_dir
            && relative
                .file_name()
                .is_some_and(|name| name == "Cargo.toml"))
}

/// The newest of the host's sources: `host/src/**`, `host/templates/**` (`capstan new`),
/// `host/Cargo.toml`, `wit/**`, `Cargo.lock` and the workspace `Cargo.toml` (dependency
/// features and profiles).
pub(crate) fn host_sources(root: &Path) -> io::Result<Option<NewestSource>> {
    let mut newest = None;
    walk(&root.join("host/src"), &everything, &mut newest)?;
    walk(&root.join("host/templates"), &everything, &mut newest)?;
    walk(&root.join("wit"), &everything, &mut newest)?;
    for file in ["host/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        consider_file(&root.join(file), &mut newest)?;
    }
    Ok(newest)
}

/// The newest of the plugins' sources: `plugins/**/src/**`, `plugins/**/Cargo.toml`,
/// `plugins/Cargo.lock` and `wit/**`.
pub(crate) fn plugin_sources(root: &Path) -> io::Result<Option<NewestSource>> {
    let mut newest = None;
    walk(&root.join("plugins"), &crate_sources, &mut newest)?;
    consider_file(&root.join("plugins/Cargo.lock"), &mut newest)?;
    walk(&root.join("wit"), &everything, &mut newest)?;
    Ok(newest)
}

/// The modification time of `path`, `None` when it does not exist.
fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The host binary.
pub(crate) fn host_artifacts(root: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    let bin = root.join("target/release/capstan");
    let time = modified(&bin);
    vec![(bin, time)]
}

/// The folder the plugin components are built into.
pub(crate) fn plugin_dir(root: &Path) -> PathBuf {
    root.join("plugins/target/wasm32-wasip2/release")
}

/// Every `*.wasm` component in `dir` (none when it does not exist).
pub(crate) fn components(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .map(|path| {
            let time = modified(&path);
            (path, time)
        })
        .collect();
    found.sort();
    found
}

/// Gives each existing artifact at least the modification time `at` (the newest source seen
/// before a successful build): cargo leaves up-to-date artifacts untouched, and without this a
/// source touched without a change would cause a rebuild on every run.
pub(crate) fn mark_built(artifacts: &[(PathBuf, Option<SystemTime>)], at: SystemTime) {
    for (artifact, modified) in artifacts {
        if modified.is_some_and(|modified| modified < at) {
            let touched = std::fs::File::open(artifact).and_then(|file| file.set_modified(at));
            if let Err(error) = touched {
                eprintln!(
                    "capstan-tests: could not update the modification time of {} ({error}); \
                     the next test run will ask cargo again",
                    artifact.display()
                );
            }
        }
    }
}

/// A build the tests depend on.
pub(crate) struct Build {
    /// What is built, for messages.
    pub(crate) what: &'static str,
    /// The program to run: cargo, or Node for the JavaScript plugin.
    pub(crate) program: PathBuf,
    /// The folder it runs in.
    pub(crate) dir: PathBuf,
    /// Its arguments.
    pub(crate) args: &'static [&'static str],
    /// The command as a person would type it from the repository root.
    pub(crate) command: &'static str,
    /// Where cargo puts its output (set as `CARGO_TARGET_DIR`, so an inherited one does not
    /// send the build elsewhere).
    pub(crate) target_dir: PathBuf,
    /// The artifacts and their modification times.
    pub(crate) artifacts: Box<dyn Fn() -> Vec<(PathBuf, Option<SystemTime>)> + Send + Sync>,
    /// What "missing" names when there are no artifacts at all.
    pub(crate) fallback: PathBuf,
    /// The newest source.
    pub(crate) sources: Box<dyn Fn() -> io::Result<Option<NewestSource>> + Send + Sync>,
}

/// The cargo that runs the tests (`$CARGO`), else the one that built them, else `cargo`.
fn cargo() -> PathBuf {
    if let Some(cargo) = std::env::var_os("CARGO") {
        return PathBuf::from(cargo);
    }
    let built_with = Path::new(env!("CARGO"));
    if built_with.is_file() {
        built_with.to_path_buf()
    } else {
        PathBuf::from("cargo")
    }
}

/// Checks `build` and rebuilds it when stale; the error says what is stale and what to run.
pub(crate) fn ensure(build: &Build) -> Result<(), String> {
    let newest = (build.sources)()
        .map_err(|error| format!("checking whether {} is up to date: {error}", build.what))?;
    let freshness = decide(&(build.artifacts)(), newest.as_ref(), &build.fallback);
    if freshness == Freshness::Fresh {
        return Ok(());
    }
    eprintln!(
        "capstan-tests: {freshness}; rebuilding {} with `{}`",
        build.what, build.command
    );
    let status = Command::new(&build.program)
        .args(build.args)
        .current_dir(&build.dir)
        .env("CARGO_TARGET_DIR", &build.target_dir)
        .status();
    let failure = match status {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("it failed ({status}; its errors are above)")),
        Err(error) => Some(format!(
            "{} could not be started: {error}",
            build.program.display()
        )),
    };
    if let Some(failure) = failure {
        return Err(format!(
            "{freshness}, so the end-to-end tests would test an old {what}; rebuilding it \
             with `{command}` did not work: {failure}. Run `{command}` (or `./dev build`), fix \
             what it reports, then run the tests again",
            what = build.what,
            command = build.command,
        ));
    }
    let built = (build.artifacts)();
    if let Freshness::Missing { artifact } = decide(&built, None, &build.fallback) {
        return Err(format!(
            "`{}` succeeded but {} is still missing",
            build.command,
            artifact.display()
        ));
    }
    if let Some(newest) = newest {
        mark_built(&built, newest.modified);
    }
    Ok(())
}

/// The host binary's build.
pub(crate) fn host(root: &Path) -> Build {
    let artifacts_root = root.to_path_buf();
    let sources_root = root.to_path_buf();
    Build {
        what: "target/release/capstan",
        program: cargo(),
        dir: root.to_path_buf(),
        // What `./dev build` runs: with `-p capstan` alone, cargo would unify dependency
        // features differently and build (from scratch, the first time) a different binary.
        args: &[
            "build",
            "--release",
            "--locked",
            "-p",
            "capstan",
            "-p",
            "capstan-tests",
            "--bins",
        ],
        command: "cargo build --release --locked -p capstan -p capstan-tests --bins",
        target_dir: root.join("target"),
        artifacts: Box::new(move || host_artifacts(&artifacts_root)),
        fallback: root.join("target/release/capstan"),
        sources: Box::new(move || host_sources(&sources_root)),
    }
}

/// The plugin components' build (`plugins/.cargo/config.toml` targets wasm32-wasip2).
pub(crate) fn plugins(root: &Path) -> Build {
    let dir = plugin_dir(root);
    let sources_root = root.to_path_buf();
    Build {
        what: "plugin components in plugins/target/wasm32-wasip2/release",
        program: cargo(),
        dir: root.join("plugins"),
        args: &["build", "--release", "--locked"],
        command: "(cd plugins && cargo build --release --locked)",
        target_dir: root.join("plugins/target"),
        artifacts: Box::new(move || components(&dir)),
        fallback: plugin_dir(root).join("*.wasm"),
        sources: Box::new(move || plugin_sources(&sources_root)),
    }
}

/// The JavaScript ESO plugin's component (`plugins/eso/build.mjs` writes it).
pub(crate) fn eso_component(root: &Path) -> PathBuf {
    root.join("plugins/target/eso/eso.wasm")
}

/// The newest of the ESO plugin's sources: `plugins/eso/src/**`, its lock file, its build
/// script and `wit/**`.
pub(crate) fn eso_sources(root: &Path) -> io::Result<Option<NewestSource>> {
    let dir = root.join("plugins/eso");
    let mut newest = None;
    walk(&dir.join("src"), &everything, &mut newest)?;
    for file in ["package-lock.json", "build.mjs"] {
        consider_file(&dir.join(file), &mut newest)?;
    }
    walk(&root.join("wit"), &everything, &mut newest)?;
    Ok(newest)
}

/// The Node 22 that `./dev` installs: `$CAPSTAN_TEST_NODE`, else
/// `target/tools/node22/node_modules/.bin/node`.
pub(crate) fn node(root: &Path) -> PathBuf {
    std::env::var_os("CAPSTAN_TEST_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/tools/node22/node_modules/.bin/node"))
}

/// The ESO plugin's build: componentize-js under Node, after `npm ci` in `plugins/eso`
/// (which `./dev build` runs).
pub(crate) fn eso(root: &Path) -> Build {
    let component = eso_component(root);
    let sources_root = root.to_path_buf();
    Build {
        what: "the ESO plugin component plugins/target/eso/eso.wasm",
        program: node(root),
        dir: root.join("plugins/eso"),
        args: &["build.mjs"],
        command: "./dev build",
        target_dir: root.join("plugins/target"),
        artifacts: Box::new(move || {
            let time = modified(&component);
            vec![(component.clone(), time)]
        }),
        fallback: eso_component(root),
        sources: Box::new(move || eso_sources(&sources_root)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A fixed point in time plus `seconds`.
    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
    }

    fn source(path: &str, seconds: u64) -> NewestSource {
        NewestSource {
            path: PathBuf::from(path),
            modified: at(seconds),
        }
    }

    /// Writes `path` (creating its folders) and sets its modification time.
    fn write(path: &Path, seconds: u64) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
        set_time(path, seconds);
    }

    fn set_time(path: &Path, seconds: u64) {
        std::fs::File::open(path)
            .unwrap()
            .set_modified(at(seconds))
            .unwrap();
    }

    /// Sets every folder below (and including) `dir` to `seconds`, so only files decide.
    fn age_dirs(dir: &Path, seconds: u64) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                age_dirs(&path, seconds);
            }
        }
        set_time(dir, seconds);
    }

    #[test]
    fn an_artifact_newer_than_every_source_is_fresh() {
        let artifacts = [(PathBuf::from("bin"), Some(at(10)))];
        let newest = source("host/src/main.rs", 5);
        assert_eq!(
            decide(&artifacts, Some(&newest), Path::new("bin")),
            Freshness::Fresh
        );
    }

    #[test]
    fn an_artifact_exactly_as_new_as_the_newest_source_is_fresh() {
        let artifacts = [(PathBuf::from("bin"), Some(at(10)))];
        let newest = source("host/src/main.rs", 10);
        assert_eq!(
            decide(&artifacts, Some(&newest), Path::new("bin")),
            Freshness::Fresh
        );
    }

    #[test]
    fn a_source_newer_than_the_artifact_makes_it_stale() {
        let artifacts = [(PathBuf::from("bin"), Some(at(10)))];
        let newest = source("host/src/main.rs", 11);
        let decision = decide(&artifacts, Some(&newest), Path::new("bin"));
        assert_eq!(
            decision,
            Freshness::Stale {
                artifact: PathBuf::from("bin"),
                source: PathBuf::from("host/src/main.rs"),
            }
        );
        assert_eq!(decision.to_string(), "bin is older than host/src/main.rs");
    }

    #[test]
    fn the_oldest_of_several_artifacts_decides() {
        let artifacts = [
            (PathBuf::from("argocd.wasm"), Some(at(20))),
            (PathBuf::from("probe.wasm"), Some(at(8))),
        ];
        let newest = source("plugins/sdk/src/lib.rs", 10);
        assert_eq!(
            decide(&artifacts, Some(&newest), Path::new("*.wasm")),
            Freshness::Stale {
                artifact: PathBuf::from("probe.wasm"),
                source: PathBuf::from("plugins/sdk/src/lib.rs"),
            }
        );
    }

    #[test]
    fn a_missing_artifact_or_none_at_all_is_missing() {
        let artifacts = [
            (PathBuf::from("argocd.wasm"), Some(at(20))),
            (PathBuf::from("probe.wasm"), None),
        ];
        assert_eq!(
            decide(&artifacts, None, Path::new("*.wasm")),
            Freshness::Missing {
                artifact: PathBuf::from("probe.wasm")
            }
        );
        assert_eq!(
            decide(&[], Some(&source("a", 1)), Path::new("release/*.wasm")),
            Freshness::Missing {
                artifact: PathBuf::from("release/*.wasm")
            }
        );
    }

    #[test]
    fn without_sources_an_existing_artifact_is_fresh() {
        let artifacts = [(PathBuf::from("bin"), Some(at(1)))];
        assert_eq!(decide(&artifacts, None, Path::new("bin")), Freshness::Fresh);
    }

    #[test]
    fn host_sources_are_the_newest_of_host_src_wit_and_the_lock_file() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(&root.join("host/src/main.rs"), 10);
        write(&root.join("host/src/runtime/mod.rs"), 12);
        write(&root.join("host/Cargo.toml"), 5);
        write(&root.join("wit/plugin.wit"), 7);
        write(&root.join("Cargo.lock"), 3);
        // Not sources of the host binary.
        write(&root.join("tests/src/lib.rs"), 90);
        write(&root.join("docs/x.md"), 90);
        write(&root.join("host/target/release/capstan"), 95);
        age_dirs(root, 1);
        assert_eq!(
            host_sources(root).unwrap(),
            Some(NewestSource {
                path: root.join("host/src/runtime/mod.rs"),
                modified: at(12),
            })
        );
        write(&root.join("wit/deps/http/types.wit"), 20);
        age_dirs(root, 1);
        assert_eq!(
            host_sources(root).unwrap().unwrap().path,
            root.join("wit/deps/http/types.wit")
        );
        write(&root.join("Cargo.lock"), 30);
        assert_eq!(
            host_sources(root).unwrap().unwrap().path,
            root.join("Cargo.lock")
        );
    }

    #[test]
    fn removing_a_source_file_counts_as_a_change() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(&root.join("host/src/main.rs"), 10);
        write(&root.join("host/src/old.rs"), 10);
        age_dirs(root, 1);
        std::fs::remove_file(root.join("host/src/old.rs")).unwrap();
        // The folder's modification time is now (after the removal), newer than any file.
        let newest = host_sources(root).unwrap().unwrap();
        assert_eq!(newest.path, root.join("host/src"));
        assert!(newest.modified > at(10));
    }

    #[test]
    fn plugin_sources_are_src_trees_manifests_the_lock_file_and_wit() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(&root.join("plugins/argocd/src/lib.rs"), 10);
        write(&root.join("plugins/testkit/probe/src/main.rs"), 14);
        write(&root.join("plugins/testkit/probe/Cargo.toml"), 4);
        write(&root.join("plugins/Cargo.toml"), 2);
        write(&root.join("plugins/Cargo.lock"), 3);
        write(&root.join("wit/plugin.wit"), 6);
        // Not sources of the components.
        write(&root.join("plugins/argocd/README.md"), 90);
        write(
            &root.join("plugins/target/wasm32-wasip2/release/build/x/src/y.rs"),
            90,
        );
        write(&root.join("host/src/main.rs"), 90);
        age_dirs(root, 1);
        assert_eq!(
            plugin_sources(root).unwrap(),
            Some(NewestSource {
                path: root.join("plugins/testkit/probe/src/main.rs"),
                modified: at(14),
            })
        );
        write(&root.join("plugins/Cargo.toml"), 40);
        assert_eq!(
            plugin_sources(root).unwrap().unwrap().path,
            root.join("plugins/Cargo.toml")
        );
        write(&root.join("wit/plugin.wit"), 50);
        assert_eq!(
            plugin_sources(root).unwrap().unwrap().path,
            root.join("wit/plugin.wit")
        );
        write(&root.join("plugins/Cargo.lock"), 60);
        assert_eq!(
            plugin_sources(root).unwrap().unwrap().path,
            root.join("plugins/Cargo.lock")
        );
    }

    #[test]
    fn eso_sources_are_its_src_lock_file_build_script_and_wit_not_node_modules() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(&root.join("plugins/eso/src/tools.js"), 10);
        write(&root.join("plugins/eso/package-lock.json"), 4);
        write(&root.join("plugins/eso/build.mjs"), 5);
        write(&root.join("wit/plugin.wit"), 6);
        // Not sources of the component.
        write(&root.join("plugins/eso/node_modules/x/src/index.js"), 90);
        write(&root.join("plugins/eso/README.md"), 90);
        age_dirs(root, 1);
        assert_eq!(
            eso_sources(root).unwrap().unwrap().path,
            root.join("plugins/eso/src/tools.js")
        );
        assert_eq!(
            plugin_sources(root).unwrap().unwrap().path,
            root.join("plugins/eso/src/tools.js"),
            "node_modules is no source of the cargo plugins either"
        );
        write(&root.join("plugins/eso/package-lock.json"), 40);
        assert_eq!(
            eso_sources(root).unwrap().unwrap().path,
            root.join("plugins/eso/package-lock.json")
        );
    }

    #[test]
    fn no_sources_at_all_is_none() {
        let repo = tempfile::tempdir().unwrap();
        assert_eq!(host_sources(repo.path()).unwrap(), None);
        assert_eq!(plugin_sources(repo.path()).unwrap(), None);
    }

    #[test]
    fn components_are_the_wasm_files_of_the_release_folder() {
        let repo = tempfile::tempdir().unwrap();
        let dir = plugin_dir(repo.path());
        assert!(components(&dir).is_empty());
        write(&dir.join("probe.wasm"), 5);
        write(&dir.join("argocd.wasm"), 7);
        write(&dir.join("argocd.d"), 9);
        write(&dir.join("deps/argocd-0123.wasm"), 1);
        assert_eq!(
            components(&dir),
            vec![
                (dir.join("argocd.wasm"), Some(at(7))),
                (dir.join("probe.wasm"), Some(at(5))),
            ]
        );
    }

    /// After a no-op rebuild, a source touched without a change no longer makes the artifact
    /// stale; a source changed after the check still does.
    #[test]
    fn marking_a_build_makes_touched_sources_fresh_but_not_later_edits() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        write(&root.join("host/src/main.rs"), 10);
        write(&root.join("target/release/capstan"), 8);
        age_dirs(&root.join("host"), 1);
        let newest = host_sources(root).unwrap();
        let fallback = root.join("target/release/capstan");
        assert!(matches!(
            decide(&host_artifacts(root), newest.as_ref(), &fallback),
            Freshness::Stale { .. }
        ));

        // cargo found nothing to do and left the binary alone; mark it.
        mark_built(&host_artifacts(root), newest.unwrap().modified);
        assert_eq!(host_artifacts(root)[0].1, Some(at(10)));
        let newest = host_sources(root).unwrap();
        assert_eq!(
            decide(&host_artifacts(root), newest.as_ref(), &fallback),
            Freshness::Fresh
        );

        // An edit after the check (e.g. during the build) is still newer.
        write(&root.join("host/src/main.rs"), 11);
        let newest = host_sources(root).unwrap();
        assert!(matches!(
            decide(&host_artifacts(root), newest.as_ref(), &fallback),
            Freshness::Stale { .. }
        ));
    }

    #[test]
    fn marking_never_makes_an_artifact_older() {
        let repo = tempfile::tempdir().unwrap();
        let dir = plugin_dir(repo.path());
        write(&dir.join("argocd.wasm"), 30);
        write(&dir.join("probe.wasm"), 5);
        mark_built(&components(&dir), at(10));
        assert_eq!(
            components(&dir),
            vec![
                (dir.join("argocd.wasm"), Some(at(30))),
                (dir.join("probe.wasm"), Some(at(10))),
            ]
        );
    }

    /// A build of a missing artifact with `program` standing in for cargo.
    fn missing_binary(program: &str, root: &Path) -> Build {
        let sources_root = root.to_path_buf();
        Build {
            what: "target/release/capstan",
            program: PathBuf::from(program),
            dir: root.to_path_buf(),
            args: &[],
            command: "cargo build --release --locked -p capstan -p capstan-tests --bins",
            target_dir: root.join("target"),
            artifacts: Box::new(|| vec![(PathBuf::from("target/release/capstan"), None)]),
            fallback: PathBuf::from("target/release/capstan"),
            sources: Box::new(move || host_sources(&sources_root)),
        }
    }

    /// A failing rebuild: the error names what is stale and the command to run.
    #[test]
    fn a_failing_rebuild_says_what_is_stale_and_what_to_run() {
        let repo = tempfile::tempdir().unwrap();
        write(&repo.path().join("host/src/main.rs"), 10);
        let error = ensure(&missing_binary("false", repo.path())).unwrap_err();
        assert!(
            error.starts_with("target/release/capstan is missing"),
            "{error}"
        );
        assert!(
            error.contains(
                "Run `cargo build --release --locked -p capstan -p capstan-tests --bins`"
            ),
            "{error}"
        );
    }

    /// A rebuild that succeeds without producing the artifact is an error too.
    #[test]
    fn a_rebuild_that_leaves_the_artifact_missing_fails() {
        let repo = tempfile::tempdir().unwrap();
        let error = ensure(&missing_binary("true", repo.path())).unwrap_err();
        assert!(
            error.contains("succeeded but target/release/capstan is still missing"),
            "{error}"
        );
    }

    /// A fresh build runs nothing (the stand-in for cargo does not exist).
    #[test]
    fn a_fresh_build_runs_nothing() {
        let build = Build {
            what: "x",
            program: PathBuf::from("/nonexistent/cargo"),
            dir: PathBuf::from("/nonexistent"),
            args: &[],
            command: "false",
            target_dir: PathBuf::from("/nonexistent"),
            artifacts: Box::new(|| vec![(PathBuf::from("x"), Some(at(10)))]),
            fallback: PathBuf::from("x"),
            sources: Box::new(|| Ok(Some(source("y", 9)))),
        };
        assert_eq!(ensure(&build), Ok(()));
    }
}
