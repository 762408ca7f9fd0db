//! The workflows as tools: several Argo CD calls an agent would otherwise chain by hand.
//!
//! - `directories`: create_applications_from_directories (dry run by default)
//! - `deploy`: deploy_and_watch (optional Helm/Kustomize change, sync, follow with progress
//!   and a grace period for Degraded, optional rollback)
//! - `diagnose`: diagnose_application (collect evidence, name recognised causes)

pub(crate) mod deploy;
pub(crate) mod diagnose;
pub(crate) mod directories;
