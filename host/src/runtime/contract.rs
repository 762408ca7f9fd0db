//! The plugin contract version (`package capstan:plugin@…` in `wit/plugin.wit`) a component
//! was built against, and the refusal of any other version at load, before linking, with a
//! message that says how to rebuild.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract this host runs: the version of `capstan:plugin` in `wit/plugin.wit`.
pub const VERSION: &str = "0.2.0";

/// The interface prefix every contract interface name starts with.
const PACKAGE: &str = "capstan:plugin/";

/// Refuses a component whose `capstan:plugin` imports or exports are of another contract
/// version than [`VERSION`], naming the version it was built against.
pub fn check(engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(name, _)| name)
        .chain(ty.exports(engine).map(|(name, _)| name));
    let mut other: Vec<&str> = names
        .filter_map(built_against)
        .filter(|v| *v != VERSION)
        .collect();
    other.sort_unstable();
    other.dedup();
    match other.as_slice() {
        [] => Ok(()),
        versions => anyhow::bail!(
            "the component was built against the capstan plugin contract {} (capstan:plugin@{}), but this capstan runs contract {VERSION}; rebuild the plugin against this release's wit/plugin.wit (Rust: build with this release's capstan-sdk; other languages: regenerate the bindings from wit/)",
            versions.join(" and "),
            versions.join(", capstan:plugin@"),
        ),
    }
}

/// The contract version in an import or export name such as `capstan:plugin/tools@0.1.0`.
fn built_against(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PACKAGE)?;
    rest.split_once('@').map(|(_, version)| version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_contract_names_only() {
        assert_eq!(built_against("capstan:plugin/tools@0.1.0"), Some("0.1.0"));
        assert_eq!(built_against("capstan:plugin/host@0.2.0"), Some("0.2.0"));
        assert_eq!(built_against("wasi:http/types@0.2.12"), None);
        assert_eq!(built_against("capstan:plugin/tools"), None);
    }

    #[test]
    fn the_version_is_the_one_in_the_wit() {
        let wit = include_str!("../../../wit/plugin.wit");
        assert!(wit.contains(&format!("package capstan:plugin@{VERSION};")));
    }
}
