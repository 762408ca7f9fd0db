//! Noticing changes in plugin folders, with file-system events (inotify and friends, through
//! `notify`) or, for file systems that send none, by polling.
//!
//! Every watch is non-recursive and on a directory, never on a file: a file replaced by a rename
//! (editors, `kubectl cp`, `install`) or reached through a symlink that is flipped (the way
//! Kubernetes updates a mounted ConfigMap, Secret or projected volume: a new `..<timestamp>`
//! directory, then `..data` renamed over, then the old directory removed) shows up as an event in
//! the directory that holds the name. Two kinds of directories are watched:
//!
//! - *content* directories (the plugin folders and the folders holding components, as named and
//!   with symlinks resolved), where any change counts;
//! - the *parents* of the plugin folders, where only events naming a plugin folder count, so a
//!   plugin folder that is deleted and created again, or is a symlink that is flipped, is seen.
//!
//! Each [`FolderWatcher::watch`] call re-establishes the watches whose directory was replaced (an
//! event named the directory itself, or a new inode is behind the same path) and reports it, so
//! the caller rescans for changes made before the new watch existed. Opening and reading files
//! (capstan's own rescans) is not a change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::Notify;

/// How changes are noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// File-system events.
    Events,
    /// Compare modification times every interval.
    Poll(Duration),
}

/// What the caller wants watched.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchSet {
    /// Directories where any change counts.
    pub contents: BTreeSet<PathBuf>,
    /// Paths whose own replacement counts; their parent directories are watched.
    pub entries: BTreeSet<PathBuf>,
}

impl WatchSet {
    fn directories(&self) -> BTreeSet<PathBuf> {
        let parents = self.entries.iter().filter_map(|p| p.parent());
        let parents = parents.filter(|p| !p.as_os_str().is_empty());
        let mut dirs = self.contents.clone();
        dirs.extend(parents.map(Path::to_path_buf));
        dirs
    }

    fn concerns(&self, event: &Event) -> bool {
        event.paths.is_empty()
            || event.paths.iter().any(|path| {
                self.entries.contains(path)
                    || path.parent().is_some_and(|dir| self.contents.contains(dir))
            })
    }
}

/// What the event handler matches events against, and what it learnt.
#[derive(Default)]
struct Interest {
    set: WatchSet,
    /// The watched directories.
    dirs: BTreeSet<PathBuf>,
    /// Watched directories that events named themselves (removed, renamed, created): their
    /// watch may be gone or on the old directory.
    stale: BTreeSet<PathBuf>,
}

impl Interest {
    /// Whether `event` is a change to look at; notes the directories it replaced.
    fn take(&mut self, event: &Event) -> bool {
        if !is_change(&event.kind) || !self.set.concerns(event) {
            return false;
        }
        let replaced = event.paths.iter().filter(|p| self.dirs.contains(*p));
        let replaced: Vec<PathBuf> = replaced.cloned().collect();
        self.stale.extend(replaced);
        true
    }
}

/// A watcher of plugin folders that wakes `changed` on every relevant change.
pub struct FolderWatcher {
    watcher: Box<dyn notify::Watcher + Send>,
    interest: Arc<Mutex<Interest>>,
    watched: BTreeMap<PathBuf, Identity>,
}

impl FolderWatcher {
    /// Starts a watcher (watching nothing yet) in `mode`.
    pub fn new(mode: WatchMode, changed: Arc<Notify>) -> notify::Result<Self> {
        let interest = Arc::new(Mutex::new(Interest::default()));
        let filter = interest.clone();
        let handler = move |event: notify::Result<Event>| match event {
            Ok(event) => {
                if filter.lock().expect("watch interest lock").take(&event) {
                    changed.notify_one();
                }
            }
            Err(error) => {
                tracing::warn!("watching the plugin folders: {error}; rescanning");
                changed.notify_one();
            }
        };
        let watcher: Box<dyn notify::Watcher + Send> = match mode {
            WatchMode::Events => {
                Box::new(RecommendedWatcher::new(handler, notify::Config::default())?)
            }
            WatchMode::Poll(interval) => Box::new(PollWatcher::new(
                handler,
                notify::Config::default().with_poll_interval(interval),
            )?),
        };
        Ok(Self {
            watcher,
            interest,
            watched: BTreeMap::new(),
        })
    }

    /// Watches exactly what `set` asks for. Returns true when a watch was added or renewed
    /// (its directory is new or was replaced): changes made there before now were not seen.
    pub fn watch(&mut self, set: WatchSet) -> bool {
        let dirs = set.directories();
        let stale = {
            let mut interest = self.interest.lock().expect("watch interest lock");
            interest.set = set;
            interest.dirs = dirs.clone();
            std::mem::take(&mut interest.stale)
        };
        let gone = self.watched.keys().filter(|dir| !dirs.contains(*dir));
        let gone: Vec<PathBuf> = gone.chain(&stale).cloned().collect();
        for dir in gone {
            self.forget(&dir);
        }
        let mut renewed = false;
        for dir in dirs {
            renewed |= self.renew(dir);
        }
        renewed
    }

    /// (Re)watches `dir` unless it is watched already and still the same directory; returns
    /// whether a watch was established.
    fn renew(&mut self, dir: PathBuf) -> bool {
        let Some(identity) = identity(&dir) else {
            // Not there (yet): its creation shows up in its parent, if that is watched.
            self.forget(&dir);
            return false;
        };
        if self.watched.get(&dir) == Some(&identity) {
            return false;
        }
        self.forget(&dir);
        match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching");
                self.watched.insert(dir, identity);
                true
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), "cannot watch this folder: {error}; send SIGHUP to pick up changes there");
                false
            }
        }
    }

    fn forget(&mut self, dir: &Path) {
        if self.watched.remove(dir).is_some() {
            // The watch is already gone if the directory was deleted.
            let _ = self.watcher.unwatch(dir);
        }
    }
}

/// Opening, reading and closing a file unchanged are not changes; everything else is.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Which directory a path leads to now (symlinks followed).
type Identity = (u64, u64);

#[cfg(unix)]
fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = std::fs::metadata(path).ok()?;
    metadata.is_dir().then(|| (metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<Identity> {
    path.is_dir().then_some((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_changes_in_contents_or_to_entries_count() {
        let set = WatchSet {
            contents: [PathBuf::from("/etc/capstan/plugins")].into(),
            entries: [PathBuf::from("/etc/capstan/plugins")].into(),
        };
        let create = EventKind::Create(notify::event::CreateKind::Any);
        assert!(set.concerns(&event(create, "/etc/capstan/plugins/..data")));
        assert!(set.concerns(&event(create, "/etc/capstan/plugins")));
        assert!(!set.concerns(&event(create, "/etc/capstan/capstan.log")));
        assert_eq!(
            set.directories(),
            [
                PathBuf::from("/etc/capstan"),
                PathBuf::from("/etc/capstan/plugins")
            ]
            .into()
        );
    }

    #[test]
    fn reading_is_not_a_change_but_finishing_a_write_is() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Remove(
            notify::event::RemoveKind::File
        )));
    }

    #[tokio::test]
    async fn a_replaced_folder_is_watched_again() {
        let root = tempfile::tempdir().unwrap();
        let plugins = root.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        let changed = Arc::new(Notify::new());
        let mut watcher = FolderWatcher::new(WatchMode::Events, changed.clone()).unwrap();
        let set = WatchSet {
            contents: [plugins.clone()].into(),
            entries: [plugins.clone()].into(),
        };
        assert!(watcher.watch(set.clone()));
        assert!(!watcher.watch(set.clone()), "nothing changed");
        std::fs::remove_dir(&plugins).unwrap();
        std::fs::create_dir(&plugins).unwrap();
        assert!(woken(&changed).await, "the replacement was not noticed");
        settle(&changed).await;
        assert!(watcher.watch(set), "the new folder must be watched");
        std::fs::write(plugins.join("a.toml"), "").unwrap();
        assert!(
            woken(&changed).await,
            "a change in the new folder was not noticed"
        );
    }

    async fn woken(changed: &Notify) -> bool {
        let wait = changed.notified();
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_ok()
    }

    /// Waits until no change arrived for a while, so the next wake-up is a new change.
    async fn settle(changed: &Notify) {
        let quiet = Duration::from_millis(300);
        while tokio::time::timeout(quiet, changed.notified())
            .await
            .is_ok()
        {}
    }
}
