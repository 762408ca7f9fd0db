//! The on-disk compile cache: components compiled once, loaded by mmap afterwards.
//!
//! Entries are keyed by the sha256 of the `.wasm` bytes and the engine's compatibility hash, so a
//! new capstan version or engine setting never loads a stale artifact. Entries are written to a
//! temporary file and renamed into place (the files are mmapped, so they are never modified in
//! place). Deserializing a compiled artifact runs its machine code, so capstan only ever
//! deserializes files from its own cache directory, created by it with owner-only permissions,
//! owned by the current user and not writable by anyone else; plugin folders may hold only
//! `.wasm` components.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A component ready to pre-instantiate, and where it came from.
pub struct Compiled {
    /// The compiled component.
    pub component: Component,
    /// Hex sha256 of the `.wasm` bytes.
    pub sha256: String,
    /// True when it was loaded from the cache rather than compiled now.
    pub from_cache: bool,
}

/// The compile cache directory of one engine configuration.
#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    owner: u32,
}

impl CompileCache {
    /// Opens (creating with mode 0700) the cache directory `dir`.
    pub fn open(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        create_private_dir(dir)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            owner: our_uid(dir)?,
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the compiled form of `wasm`, from the cache when a valid entry exists, otherwise
    /// compiling it and storing the result.
    pub fn get_or_compile(&self, engine: &Engine, wasm: &[u8]) -> anyhow::Result<Compiled> {
        refuse_precompiled(engine, wasm)?;
        let sha256 = hex(&Sha256::digest(wasm));
        let path = self.entry_path(&sha256);
        if let Some(component) = self.load_entry(engine, &path) {
            return Ok(Compiled {
                component,
                sha256,
                from_cache: true,
            });
        }
        let artifact = engine
            .precompile_component(wasm)
            .map_err(anyhow::Error::from)
            .context("the file is not a valid WebAssembly component")?;
        if let Err(error) = self.store_entry(&path, &artifact) {
            tracing::warn!(cache = %self.dir.display(), "could not write the compile cache: {error:#}");
        }
        let component = deserialize_bytes(engine, &artifact)?;
        Ok(Compiled {
            component,
            sha256,
            from_cache: false,
        })
    }

    fn entry_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    fn load_entry(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let metadata = fs::symlink_metadata(path).ok()?;
        if !is_trusted_file(&metadata, self.owner) {
            tracing::warn!(entry = %path.display(), "ignoring a compile cache entry not written by capstan (wrong owner, type or permissions)");
            return None;
        }
        match deserialize_file(engine, path) {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(entry = %path.display(), "recompiling: cache entry unusable: {error:#}");
                None
            }
        }
    }

    fn store_entry(&self, path: &Path, artifact: &[u8]) -> anyhow::Result<()> {
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.as_file().sync_all()?;
        file.persist(path)?;
        Ok(())
    }
}

/// Plugin folders must hold components, never precompiled artifacts: deserializing one would
/// run machine code nobody compiled here.
fn refuse_precompiled(engine: &Engine, wasm: &[u8]) -> anyhow::Result<()> {
    if Engine::detect_precompiled(wasm).is_some() {
        anyhow::bail!(
            "the file is a precompiled wasmtime artifact; capstan only loads WebAssembly components (.wasm) and compiles them itself"
        );
    }
    let _ = engine;
    Ok(())
}

#[allow(unsafe_code)]
fn deserialize_file(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: `path` is an entry of capstan's own cache directory that passed
    // `is_trusted_file`: written by this user through `store_entry` from
    // `Engine::precompile_component` output, never modified in place.
    unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, artifact: &[u8]) -> anyhow::Result<Component> {
    // SAFETY: `artifact` was produced by `Engine::precompile_component` in this process.
    unsafe { Component::deserialize(engine, artifact) }.map_err(anyhow::Error::from)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| {
            format!(
                "could not create the compile cache directory {}",
                dir.display()
            )
        })?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "the compile cache directory {} is writable by other users (mode {:o}); run `chmod go-w {}` or choose another --cache-dir",
            dir.display(),
            mode & 0o777,
            dir.display()
        );
    }
    Ok(())
}

#[cfg(unix)]
fn is_trusted_file(metadata: &fs::Metadata, owner: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    metadata.file_type().is_file() && metadata.mode() & 0o022 == 0 && metadata.uid() == owner
}

/// The effective uid of this process, read from a file it creates in `dir` (std exposes no
/// `geteuid`); also proves the cache directory is writable.
#[cfg(unix)]
fn our_uid(dir: &Path) -> anyhow::Result<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let probe = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "the compile cache directory {} is not writable",
            dir.display()
        )
    })?;
    Ok(probe.as_file().metadata()?.uid())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
