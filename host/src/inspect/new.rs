//! `capstan new NAME [--lang rust] [--dir PATH]`: writes a plugin project that builds with the
//! plain toolchain, passes `capstan check --strict` and answers `capstan call`.
//!
//! The project is a set of templates compiled into the binary (`host/templates/LANG/*.tmpl`,
//! rendered by replacing `{{placeholder}}`s) plus the plugin contract, `wit/` of this
//! repository copied word for word, so a project is always built against the contract of the
//! capstan that wrote it. A Rust project uses `wit-bindgen` from crates.io at the version
//! capstan's own plugins pin (the SDK in `plugins/sdk` is not published).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::runtime::contract;

/// The `wit-bindgen` version generated Rust projects depend on: the one `plugins/Cargo.lock`
/// pins (a unit test holds the two together).
pub const WIT_BINDGEN_VERSION: &str = "0.61.1";

/// The longest plugin name: the longest instance prefix a manifest accepts.
const MAX_NAME: usize = 32;

/// Names a Rust crate cannot take: keywords and the standard crates.
const RESERVED: &str = "abstract alloc as async await become box break const continue core crate \
    do dyn else enum extern false final fn for gen if impl in let loop macro match mod move mut \
    override priv proc_macro pub ref return self static std struct super test trait true try \
    type typeof unsafe unsized use virtual where while yield";

/// `capstan new`'s command line.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's name: 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter and ending
    /// with a letter or digit. Its tools are served as NAME_<tool> (`-` becoming `_`).
    name: String,
    /// The language of the project.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The folder to write the project into (default: ./NAME); it must not exist or be empty.
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
}

/// The languages `capstan new` writes projects in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with `wit-bindgen`, built with `cargo build --release --target wasm32-wasip2`.
    Rust,
}

impl Lang {
    /// The project's templates: its path (itself a template) and its text.
    fn templates(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => RUST,
        }
    }

    /// What to run in the project to build its component.
    fn build_command(self) -> &'static str {
        match self {
            Lang::Rust => "cargo build --release --target wasm32-wasip2",
        }
    }
}

/// The Rust project: sources, manifest and notes (the contract is added from [`WIT`]).
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/rust/gitignore.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs.tmpl"),
    ),
    (
        "src/image.rs",
        include_str!("../../templates/rust/src/image.rs.tmpl"),
    ),
    (
        "src/prompt.rs",
        include_str!("../../templates/rust/src/prompt.rs.tmpl"),
    ),
    (
        "plugin/{{name}}.toml",
        include_str!("../../templates/rust/plugin/manifest.toml.tmpl"),
    ),
];

/// The plugin contract and the WASI interfaces it uses, as in the repository's `wit/`.
const WIT: &[(&str, &str)] = &[
    ("wit/plugin.wit", include_str!("../../../wit/plugin.wit")),
    (
        "wit/deps/cli/cli.wit",
        include_str!("../../../wit/deps/cli/cli.wit"),
    ),
    (
        "wit/deps/clocks/clocks.wit",
        include_str!("../../../wit/deps/clocks/clocks.wit"),
    ),
    (
        "wit/deps/config/store.wit",
        include_str!("../../../wit/deps/config/store.wit"),
    ),
    (
        "wit/deps/config/world.wit",
        include_str!("../../../wit/deps/config/world.wit"),
    ),
    (
        "wit/deps/filesystem/filesystem.wit",
        include_str!("../../../wit/deps/filesystem/filesystem.wit"),
    ),
    (
        "wit/deps/http/http.wit",
        include_str!("../../../wit/deps/http/http.wit"),
    ),
    (
        "wit/deps/io/io.wit",
        include_str!("../../../wit/deps/io/io.wit"),
    ),
    (
        "wit/deps/random/random.wit",
        include_str!("../../../wit/deps/random/random.wit"),
    ),
    (
        "wit/deps/sockets/sockets.wit",
        include_str!("../../../wit/deps/sockets/sockets.wit"),
    ),
];

/// Why no project was written; each message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name is not a valid plugin name.
    #[error(
        "`{name}` cannot name a plugin: {reason}; use 1 to {MAX_NAME} of a-z, 0-9, `-` and `_`, starting with a letter and ending with a letter or digit, e.g. `hello-gitops`"
    )]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The folder exists and holds something.
    #[error(
        "{} is not empty; choose another folder with --dir, or another name",
        .0.display()
    )]
    NotEmpty(PathBuf),
    /// The path exists and is not a folder.
    #[error("{} exists and is not a folder; choose another path with --dir", .0.display())]
    NotAFolder(PathBuf),
    /// A file or folder could not be written.
    #[error("cannot write {}: {source}; check the folder's permissions and free space", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// A validated plugin name and the names derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginName {
    /// The name as given: the Cargo package and the manifest's file name.
    pub package: String,
    /// The name with `-` as `_`: the crate, the component's file name and the tool prefix.
    pub ident: String,
}

impl PluginName {
    /// Checks `name` against the rules every derived name must follow.
    pub fn parse(name: &str) -> Result<Self, NewError> {
        let invalid = |reason: &str| NewError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(invalid(&format!("it has {} characters", name.len())));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(invalid(&format!("`{c}` is not allowed")));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("it does not start with a letter"));
        }
        if name.ends_with(['-', '_']) {
            return Err(invalid("it ends with `-` or `_`"));
        }
        let ident = name.replace('-', "_");
        if RESERVED.split_whitespace().any(|word| word == ident) {
            return Err(invalid("Rust reserves it"));
        }
        Ok(Self {
            package: name.to_owned(),
            ident,
        })
    }

    /// The template placeholders and their values.
    fn placeholders(&self) -> [(&'static str, &str); 6] {
        [
            ("{{name}}", &self.package),
            ("{{crate}}", &self.ident),
            ("{{prefix}}", &self.ident),
            ("{{wit_bindgen}}", WIT_BINDGEN_VERSION),
            ("{{contract}}", contract::VERSION),
            ("{{repository}}", env!("CARGO_PKG_REPOSITORY")),
        ]
    }

    /// `template` with every placeholder replaced.
    fn render(&self, template: &str) -> String {
        self.placeholders()
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(key, value)
            })
    }
}

/// The files of a new project: paths relative to its folder, and their text.
pub fn project(name: &PluginName, lang: Lang) -> Vec<(String, String)> {
    let templates = lang
        .templates()
        .iter()
        .map(|(path, text)| (name.render(path), name.render(text)));
    let contract = WIT
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()));
    templates.chain(contract).collect()
}

/// Runs `capstan new`.
pub fn run(args: &NewArgs) -> anyhow::Result<ExitCode> {
    let name = PluginName::parse(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&name.package));
    prepare(&dir)?;
    for (path, text) in project(&name, args.lang) {
        write(&dir.join(path), &text)?;
    }
    println!("{}", next_steps(&name, args.lang, &dir));
    Ok(ExitCode::SUCCESS)
}

/// Creates `dir`, or accepts it when it is an empty folder.
fn prepare(dir: &Path) -> Result<(), NewError> {
    let failed = |source| NewError::Write {
        path: dir.to_path_buf(),
        source,
    };
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(NewError::NotEmpty(dir.to_path_buf())),
        },
        Err(_) if dir.exists() && !dir.is_dir() => Err(NewError::NotAFolder(dir.to_path_buf())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(failed)
        }
        Err(error) => Err(failed(error)),
    }
}

/// Writes a new file (never replacing one), creating its folder.
fn write(path: &Path, text: &str) -> Result<(), NewError> {
    let failed = |source| NewError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

/// What `capstan new` prints: where the project is and how to build, check and call it.
fn next_steps(name: &PluginName, lang: Lang, dir: &Path) -> String {
    let prefix = &name.ident;
    format!(
        "wrote the plugin project `{}` in {}; next:\n\n  cd {}\n  {}\n  capstan check --strict plugin\n  capstan call plugin {prefix}_parse_image '{{\"image\": \"ghcr.io/org/app:1.2\"}}'\n  capstan serve --plugins plugin",
        name.package,
        dir.display(),
        dir.display(),
        lang.build_command(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> PluginName {
        PluginName::parse(text).unwrap()
    }

    #[test]
    fn new_accepts_plugin_names_and_derives_the_crate_and_prefix() {
        let parsed = name("hello-gitops");
        assert_eq!(parsed.package, "hello-gitops");
        assert_eq!(parsed.ident, "hello_gitops");
        assert_eq!(name("a").ident, "a");
        assert_eq!(name("argo_cd2").ident, "argo_cd2");
    }

    #[test]
    fn new_refuses_names_that_cannot_be_a_crate_or_a_prefix() {
        for bad in [
            "",
            "Hello",
            "2fast",
            "-x",
            "x-",
            "x_",
            "has space",
            "dots.no",
            "fn",
            "test",
            "self",
            &"x".repeat(33),
        ] {
            let error = PluginName::parse(bad).unwrap_err().to_string();
            assert!(
                error.contains("cannot name a plugin") && error.contains("e.g. `hello-gitops`"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn new_renders_every_placeholder() {
        for (path, text) in project(&name("hello-gitops"), Lang::Rust) {
            if !path.starts_with("wit/") {
                assert!(!text.contains("{{"), "{path} keeps a placeholder");
                assert!(!path.contains("{{"), "{path} keeps a placeholder");
            }
        }
    }

    #[test]
    fn new_writes_a_manifest_that_points_at_the_built_component() {
        let files = project(&name("hello-gitops"), Lang::Rust);
        let manifest = files
            .iter()
            .find(|(path, _)| path == "plugin/hello-gitops.toml")
            .map(|(_, text)| text)
            .expect("a manifest");
        assert!(
            manifest.contains("component = \"../target/wasm32-wasip2/release/hello_gitops.wasm\"")
        );
        assert!(manifest.contains("prefix = \"hello_gitops\""));
        let cargo = &files
            .iter()
            .find(|(path, _)| path == "Cargo.toml")
            .unwrap()
            .1;
        assert!(cargo.contains("name = \"hello-gitops\""));
        assert!(cargo.contains(&format!("wit-bindgen = \"={WIT_BINDGEN_VERSION}\"")));
    }

    #[test]
    fn new_copies_every_file_of_the_repository_wit() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut on_disk = Vec::new();
        collect(&root.join("wit"), &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<&str> = WIT.iter().map(|(path, _)| *path).collect();
        embedded.sort_unstable();
        assert_eq!(
            embedded, on_disk,
            "list every file of wit/ in inspect::new::WIT"
        );
        for (path, text) in WIT {
            assert_eq!(
                fs::read_to_string(root.join(path)).unwrap(),
                *text,
                "{path}"
            );
        }
    }

    fn collect(dir: &Path, root: &Path, into: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, root, into);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                into.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn new_pins_the_wit_bindgen_of_the_plugins_lock_file() {
        let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/Cargo.lock");
        let lock = fs::read_to_string(lock_path).unwrap();
        let pinned = format!("name = \"wit-bindgen\"\nversion = \"{WIT_BINDGEN_VERSION}\"\n");
        assert!(
            lock.contains(&pinned),
            "set WIT_BINDGEN_VERSION to the wit-bindgen plugins/Cargo.lock pins"
        );
        let workspace =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/Cargo.toml"))
                .unwrap();
        assert!(workspace.contains(&format!("wit-bindgen = \"{WIT_BINDGEN_VERSION}\"")));
    }

    #[test]
    fn new_refuses_a_folder_that_holds_something() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("keep"), "").unwrap();
        let error = prepare(dir.path()).unwrap_err();
        assert!(matches!(error, NewError::NotEmpty(_)), "{error}");
        let file = dir.path().join("keep");
        assert!(matches!(prepare(&file), Err(NewError::NotAFolder(_))));
    }

    #[test]
    fn new_writes_the_project_into_an_empty_or_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("deep/hello");
        let args = NewArgs {
            name: "hello".to_owned(),
            lang: Lang::Rust,
            dir: Some(target.clone()),
        };
        run(&args).unwrap();
        assert!(target.join("plugin/hello.toml").is_file());
        assert!(target.join("wit/deps/http/http.wit").is_file());
        let again = run(&args).unwrap_err().to_string();
        assert!(again.contains("is not empty"), "{again}");
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let into_empty = NewArgs {
            dir: Some(empty.clone()),
            ..args
        };
        run(&into_empty).unwrap();
        assert!(empty.join("src/lib.rs").is_file());
    }
}
