//! The process-wide wasmtime engine: pooling allocator, epoch interruption and its ticker.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::CompileCache;
use super::call::Component;
use super::imports;
use super::state::{CallState, EPOCH_TICK};

/// Linear memory an instance's pool slot keeps between calls, reset in place instead of being
/// returned to the kernel. Resident memory grows by at most this much per slot used.
const KEEP_RESIDENT: usize = 256 << 10;

/// Memories one component may define; the pool holds this many for every instance slot, so a
/// component with many memories cannot use up the memories while slots remain.
const MEMORIES_PER_COMPONENT: u32 = 4;

/// Tables one component may define; the pool holds this many for every instance slot.
const TABLES_PER_COMPONENT: u32 = 8;

/// Core instances one component may create; the pool holds this many for every slot.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;

/// Engine-wide ceilings; per-instance limits from manifests must fit inside them.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    /// Instances that may exist at once across all plugins (pool slots).
    pub max_instances: u32,
    /// The largest linear memory any instance may grow to.
    pub max_memory_bytes: u64,
}

impl Default for EngineLimits {
    fn default() -> Self {
        Self {
            max_instances: 256,
            max_memory_bytes: 256 << 20,
        }
    }
}

/// The sandbox runtime: engine, linker and compile cache, shared by every plugin.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<wasmtime::component::Linker<CallState>>,
    cache: CompileCache,
    limits: EngineLimits,
    instance_slots: Arc<tokio::sync::Semaphore>,
}

impl Runtime {
    /// Builds the engine and linker, opens the compile cache in `cache_dir`, and starts the
    /// epoch ticker (a thread that stops when the last clone of the engine is dropped).
    pub fn new(limits: EngineLimits, cache_dir: &Path) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&limits))
            .map_err(anyhow::Error::from)
            .context("could not create the WebAssembly engine")?;
        start_epoch_ticker(&engine);
        let linker = imports::linker(&engine)?;
        let cache = CompileCache::open(cache_dir, &engine)?;
        super::slots::sized(limits.max_instances);
        Ok(Self {
            instance_slots: Arc::new(tokio::sync::Semaphore::new(limits.max_instances as usize)),
            engine,
            linker: Arc::new(linker),
            cache,
            limits,
        })
    }

    /// The engine-wide ceilings.
    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }

    /// The most pool slots one plugin instance's calls may hold at once: half the pool, so no
    /// instance can take every slot and starve the others' calls and instantiation.
    pub fn fair_share_of_slots(&self) -> u32 {
        fair_share(self.limits.max_instances)
    }

    /// The compile cache.
    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// Loads the component `wasm` (the bytes of a `.wasm` file): compile (or cache hit), import
    /// check, pre-instantiation. Blocking and CPU-heavy on a cache miss: run it off the request
    /// path.
    pub fn load(&self, wasm: &[u8]) -> anyhow::Result<Component> {
        let compiled = self.cache.get_or_compile(&self.engine, wasm)?;
        super::contract::check(&self.engine, &compiled.component)?;
        imports::check(&self.engine, &compiled.component)?;
        let pre = self
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(anyhow::Error::from)
            .context("the component cannot be linked against capstan's imports")?;
        let pre = super::bindings::PluginPre::new(pre)
            .map_err(anyhow::Error::from)
            .context("the component does not export the capstan:plugin world")?;
        Ok(Component::new(
            self.engine.clone(),
            pre,
            compiled.sha256,
            compiled.from_cache,
            self.instance_slots.clone(),
        ))
    }
}

/// Half of `slots`, at least one.
fn fair_share(slots: u32) -> u32 {
    (slots / 2).max(1)
}

fn engine_config(limits: &EngineLimits) -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool_config(limits)));
    config
}

/// The pooling allocator: every instance slot has room for the most memories, tables and core
/// instances one component may use, so instantiation fails only when the slots run out.
fn pool_config(limits: &EngineLimits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    let instances = limits.max_instances;
    pool.total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
        .total_memories(instances * MEMORIES_PER_COMPONENT)
        .total_tables(instances * TABLES_PER_COMPONENT)
        .total_stacks(instances)
        .max_memory_size(limits.max_memory_bytes as usize)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        // Between calls, the pages a call dirtied (found with Linux's PAGEMAP_SCAN, 6.7 and
        // later) are reset in place, up to KEEP_RESIDENT per instance; only the rest goes back
        // to the kernel. Returned pages made the next call fault each one in again, and every
        // such fault on a copy-on-write page flushed every core's TLB with an IPI: 6-7% of
        // capstan's CPU at concurrency 1, under 1% with this. A single-object call fits in it;
        // a list of a hundred applications keeps that much and returns the rest. Older kernels
        // fall back to resetting the first KEEP_RESIDENT bytes blindly.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(64 << 10)
        // Returning memory to the kernel in batches saves a TLB shootdown across every core
        // per call (the bench's sandbox share dropped from about 88 µs to 60 µs with it).
        .decommit_batch_size(32);
    pool
}

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("capstan-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component whose core modules together use the most memories and tables a component
    /// may (a core module may define one of each).
    fn greedy_component() -> String {
        let modules: String = (0..TABLES_PER_COMPONENT)
            .map(|i| {
                let memory = if i < MEMORIES_PER_COMPONENT { "(memory 1)" } else { "" };
                format!(
                    "(core module $m{i} {memory} (table 1 funcref)) (core instance (instantiate $m{i}))"
                )
            })
            .collect();
        format!("(component {modules})")
    }

    #[test]
    fn every_slot_holds_a_component_with_the_most_memories_and_tables() {
        let limits = EngineLimits {
            max_instances: 3,
            max_memory_bytes: 1 << 20,
        };
        let engine = Engine::new(&engine_config(&limits)).unwrap();
        let component = wasmtime::component::Component::new(&engine, greedy_component()).unwrap();
        let linker = wasmtime::component::Linker::<()>::new(&engine);
        let mut held = Vec::new();
        for slot in 0..limits.max_instances {
            let mut store = wasmtime::Store::new(&engine, ());
            let instance = linker.instantiate(&mut store, &component);
            assert!(
                instance.is_ok(),
                "slot {slot} of {}: {:#}",
                limits.max_instances,
                instance.err().unwrap()
            );
            held.push(store);
        }
        let mut store = wasmtime::Store::new(&engine, ());
        assert!(
            linker.instantiate(&mut store, &component).is_err(),
            "a slot past the pool"
        );
    }

    #[test]
    fn one_instance_may_hold_half_the_slots() {
        assert_eq!(fair_share(256), 128);
        assert_eq!(fair_share(3), 1);
        assert_eq!(fair_share(1), 1);
    }
}
