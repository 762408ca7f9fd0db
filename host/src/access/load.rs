//! Reading a policy file: Cedar's parser, then its validator in strict mode against
//! `capstan.cedarschema`, with every problem placed at a line and column.
//!
//! One relaxation: the schema cannot list every tool's arguments, so `context.arguments` is an
//! empty record there, and the validator's "attribute not found" on `context.arguments.<name>` is
//! not a problem. At run time such an access on a call without that argument is an evaluation
//! error: the policy is skipped (Cedar's semantics) and the decision notes it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use cedar_policy::{PolicySet, Schema, ValidationError, ValidationMode, Validator};
use miette::Diagnostic;

/// The schema every policy file is validated against.
pub const SCHEMA: &str = include_str!("capstan.cedarschema");

static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA).expect("the schema parses");
    Validator::new(schema)
});

/// One problem in a policy file, at a place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, if Cedar placed the problem.
    pub line: Option<usize>,
    /// 1-based column (in characters), if Cedar placed the problem.
    pub column: Option<usize>,
    /// What is wrong, with Cedar's hint when it has one.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{line}:{column}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the policy file {}: {source}; check the path given with --policy or `policy_file`", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text does not parse or does not validate.
    #[error("{}: the policy is invalid; fix it and check it with `capstan policy check`:{}", file.display(), list(problems))]
    Invalid {
        /// The file (or `<policy>` for text).
        file: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

impl PolicyError {
    /// The problems, with lines and columns (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Read { .. } => &[],
            Self::Invalid { problems, .. } => problems,
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// Parses and validates `text`; `file` names it in errors.
pub(crate) fn parse(file: &Path, text: &str) -> Result<PolicySet, PolicyError> {
    let invalid = |problems| PolicyError::Invalid {
        file: file.to_path_buf(),
        problems,
    };
    let policies: PolicySet = text.parse().map_err(|errors: cedar_policy::ParseErrors| {
        invalid(errors.iter().map(|e| problem(text, e)).collect())
    })?;
    let mut problems: Vec<Problem> = policies
        .templates()
        .map(|template| Problem {
            message: format!(
                "`{}` is a template (it has ?principal or ?resource); write a policy for each principal or resource instead",
                template.id()
            ),
            ..located(text, None)
        })
        .collect();
    let result = VALIDATOR.validate(&policies, ValidationMode::Strict);
    problems.extend(
        result
            .validation_errors()
            .filter(|error| !reads_an_argument(error))
            .map(|error| problem(text, error)),
    );
    match problems.is_empty() {
        true => Ok(policies),
        false => Err(invalid(problems)),
    }
}

/// Whether `error` is only "`arguments.<name>` not found in context": allowed, see the module.
fn reads_an_argument(error: &ValidationError) -> bool {
    let ValidationError::UnsafeAttributeAccess(access) = error else {
        return false;
    };
    let text = access.to_string();
    text.contains("attribute `arguments.") && text.contains("` in context for ")
}

fn problem(text: &str, diagnostic: &(impl Diagnostic + fmt::Display + ?Sized)) -> Problem {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset());
    let mut message = diagnostic.to_string();
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" ({help})"));
    }
    Problem {
        message,
        ..located(text, offset)
    }
}

fn located(text: &str, offset: Option<usize>) -> Problem {
    let Some(offset) = offset.filter(|o| *o <= text.len()) else {
        return Problem {
            line: None,
            column: None,
            message: String::new(),
        };
    };
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Problem {
        line: Some(line),
        column: Some(column),
        message: String::new(),
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("p.cedar"), text) {
            Ok(_) => Vec::new(),
            Err(error) => error.problems().iter().map(Problem::to_string).collect(),
        }
    }

    #[test]
    fn the_schema_parses() {
        LazyLock::force(&VALIDATOR);
    }

    #[test]
    fn syntax_errors_have_a_line_and_column() {
        let found = problems(
            "permit(principal, action, resource);\n\npermit(principal, action resource);\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("3:"), "{found:?}");
    }

    #[test]
    fn type_errors_against_the_schema_are_problems() {
        let found =
            problems("permit(principal, action, resource)\n  when { principal.nmae == \"x\" };\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("2:"), "{found:?}");
        assert!(found[0].contains("nmae"), "{found:?}");
        let found = problems("permit(principal in Capstan::Team::\"a\", action, resource);");
        assert!(!found.is_empty());
        let found =
            problems("permit(principal, action, resource) when { resource.readOnly == 1 };");
        assert!(!found.is_empty());
    }

    #[test]
    fn reading_arguments_is_allowed_but_not_other_context() {
        assert_eq!(
            problems(
                "permit(principal, action, resource) when { context.arguments.prune == true && context.arguments.name like \"web-*\" };"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(
                "permit(principal, action, resource) when { context.arguments has prune && context.arguments.prune == true };"
            ),
            Vec::<String>::new()
        );
        assert!(
            !problems("permit(principal, action, resource) when { context.targt == \"prod\" };")
                .is_empty()
        );
        // `target` is optional: reading it needs a `has` guard.
        assert!(
            !problems("permit(principal, action, resource) when { context.target == \"prod\" };")
                .is_empty()
        );
    }

    #[test]
    fn templates_are_refused() {
        let found = problems("permit(principal == ?principal, action, resource);");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("template"), "{found:?}");
    }
}
