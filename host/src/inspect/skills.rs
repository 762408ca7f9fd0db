//! `capstan skills export`: the skills the plugins in a folder ship, written as an Agent Skills
//! folder (`DIR/NAME/SKILL.md` and its sibling files) for clients that read skills from disk.
//! Files are written rendered, as MCP clients get them: tool names carry their instance's
//! prefix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::registry::{SkillDefinition, Snapshot};

/// Writes every skill of `snapshot` (only those of `instance`, when given) into `out`; two
/// instances shipping a skill of the same name must be told apart with `instance`.
pub fn export(snapshot: &Snapshot, out: &Path, instance: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut chosen: BTreeMap<&str, (&str, &SkillDefinition)> = BTreeMap::new();
    for served in snapshot.instances() {
        if instance.is_some_and(|wanted| wanted != served.name()) {
            continue;
        }
        for skill in served.skills() {
            if let Some((other, _)) = chosen.insert(&skill.name, (served.name(), skill)) {
                anyhow::bail!(
                    "instances `{other}` and `{}` both ship the skill `{}`; export one instance at a time with --instance",
                    served.name(),
                    skill.name
                );
            }
        }
    }
    if let Some(wanted) = instance
        && !snapshot.instances().iter().any(|i| i.name() == wanted)
    {
        anyhow::bail!("no plugin instance is named `{wanted}`; `capstan check` lists them");
    }
    for (name, (from, skill)) in &chosen {
        for file in &skill.files {
            let path: PathBuf = out.join(name).join(&file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, &file.content)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!("{name}  ({from}, {} files)", skill.files.len());
    }
    if chosen.is_empty() {
        eprintln!("the plugins ship no skills; nothing written");
    }
    Ok(ExitCode::SUCCESS)
}
