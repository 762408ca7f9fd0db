//! `./dev demo` as a newcomer meets it: the shipped manifests of `demo/plugins/` (only the fakes'
//! addresses changed, to free ports) served against the demo data set, and the three workflows
//! of the README's "Act in the demo" run with exactly the tool calls the README shows, parsed
//! from it, so neither the README, the manifests nor the demo data can drift apart unnoticed.

use std::path::Path;

use capstan_tests::capstan::{Capstan, PluginDir};
use capstan_tests::client::{Client, is_error, text};
use capstan_tests::fakes::{argocd, demo, kube};
use capstan_tests::paths::repo_root;
use serde_json::{Map, Value, json};

/// Where `./dev demo` starts the fakes, as the shipped manifests say.
const ARGOCD_URL: &str = "http://127.0.0.1:18080";
const KUBE_URL: &str = "http://127.0.0.1:18081";

/// Copies every manifest of `demo/plugins/` into `plugins`, with the component path made
/// absolute and the fakes' fixed addresses replaced by where the test's fakes listen.
fn shipped_manifests(plugins: &PluginDir, argocd_url: &str, kube_url: &str) -> Vec<String> {
    let folder = repo_root().join("demo/plugins");
    let mut instances = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let shipped = std::fs::read_to_string(&path).unwrap();
        assert!(
            shipped.contains(ARGOCD_URL) || shipped.contains(KUBE_URL),
            "{} points at neither fake of `./dev demo`",
            path.display()
        );
        let text: Vec<String> = shipped
            .lines()
            .map(|line| match line.strip_prefix("component = ") {
                Some(relative) => {
                    let relative: String = serde_json::from_str(relative).unwrap();
                    format!("component = {:?}", absolute(&folder, &relative))
                }
                None => line
                    .replace(ARGOCD_URL, argocd_url)
                    .replace(KUBE_URL, kube_url),
            })
            .collect();
        let instance = path.file_stem().unwrap().to_str().unwrap().to_owned();
        plugins.raw_manifest(&instance, &text.join("\n"));
        instances.push(instance);
    }
    instances
}

fn absolute(folder: &Path, relative: &str) -> String {
    let path = folder.join(relative);
    assert!(path.exists(), "{} is not built", path.display());
    path.display().to_string()
}

/// The tool calls of the README's "Act in the demo": (tool, arguments), in order.
fn readme_calls() -> Vec<(String, Value)> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("### Act in the demo")
        .nth(1)
        .expect("README has an \"Act in the demo\" section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section shows the calls in a ```sh block");
    block
        .replace("\\\n", " ")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| call_of(&shell_words(line)))
        .collect()
}

/// Splits a command line as a POSIX shell does for plain words and single or double quotes.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in {line}");
    if in_word {
        words.push(word);
    }
    words
}

/// The tool and arguments of an MCP Inspector CLI `tools/call`: each `--tool-arg key=value`
/// value is JSON when it parses as JSON, else a string, as the Inspector reads them.
fn call_of(words: &[String]) -> (String, Value) {
    assert!(
        words.starts_with(&["npx".into(), "@modelcontextprotocol/inspector".into()]),
        "{words:?}"
    );
    let value_of = |flag: &str| -> Vec<String> {
        words
            .iter()
            .zip(words.iter().skip(1))
            .filter(|(word, _)| *word == flag)
            .map(|(_, value)| value.clone())
            .collect()
    };
    assert_eq!(value_of("--method"), ["tools/call"]);
    let tool = value_of("--tool-name").pop().expect("a --tool-name");
    let mut arguments = Map::new();
    for pair in value_of("--tool-arg") {
        let (key, value) = pair.split_once('=').expect("--tool-arg key=value");
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        arguments.insert(key.to_owned(), value);
    }
    (tool, Value::Object(arguments))
}

#[tokio::test]
async fn the_readme_workflows_run_against_the_shipped_demo() {
    // `./dev demo` starts the fakes at the addresses the manifests name.
    let dev = std::fs::read_to_string(repo_root().join("dev")).unwrap();
    let address = |url: &str| url.trim_start_matches("http://").to_owned();
    assert!(
        dev.contains(&format!("--argocd {}", address(ARGOCD_URL)))
            && dev.contains(&format!("--kube {}", address(KUBE_URL))),
        "`./dev demo` and demo/plugins disagree on the fakes' addresses"
    );

    let argocd = argocd::start(demo::argocd()).await.unwrap();
    let kube = kube::start(demo::cluster()).await.unwrap();
    let plugins = PluginDir::new();
    let mut instances = shipped_manifests(&plugins, &argocd.base_url(), &kube.base_url());
    instances.sort();
    assert_eq!(instances, ["argocd", "argocd-ops", "flux", "rollouts"]);
    let capstan = Capstan::start(&plugins);
    assert!(
        capstan.load_failures().is_empty(),
        "{:?}",
        capstan.load_failures()
    );
    let client = Client::connect(&capstan.url()).await.unwrap();

    let calls = readme_calls();
    let tools: Vec<&str> = calls.iter().map(|(tool, _)| tool.as_str()).collect();
    assert_eq!(
        tools,
        [
            "argocd_ops_create_application",
            "argocd_ops_create_applications_from_directories",
            "argocd_ops_deploy_and_watch",
        ]
    );
    let mut answers = Vec::new();
    for (tool, arguments) in &calls {
        let result = client.call(tool, arguments.clone()).await.unwrap();
        assert!(!is_error(&result), "{tool} failed: {}", text(&result));
        answers.push(result.structured_content.clone().unwrap());
    }

    // 1. The application described in plain words exists.
    let name = calls[0].1["application"]["metadata"]["name"]
        .as_str()
        .unwrap();
    assert_eq!(answers[0]["summary"]["name"], name, "{}", answers[0]);
    let created = argocd
        .application(name)
        .expect("the application is created");
    assert_eq!(created["spec"]["source"]["path"], "kustomize-guestbook");

    // 2. One application per directory under apps/ of the platform repository.
    let platform = ["external-dns", "kyverno", "sealed-secrets", "velero"];
    assert_eq!(answers[1]["dryRun"], false, "{}", answers[1]);
    assert_eq!(answers[1]["created"], json!(platform), "{}", answers[1]);
    for app in platform {
        let app = argocd
            .application(app)
            .expect("one application per directory");
        assert_eq!(app["spec"]["source"]["repoURL"], demo::PLATFORM_REPO);
    }

    // 3. The broken release degrades search-api, and the deploy rolls it back.
    let deploy = &answers[2];
    assert_eq!(deploy["outcome"], "RolledBack", "{deploy}");
    assert_eq!(
        calls[2].1["kustomizeImages"],
        json!([demo::BROKEN_RELEASE]),
        "the README deploys the demo's broken release"
    );
    let search = argocd.application("search-api").unwrap();
    assert_eq!(search["status"]["health"]["status"], "Healthy", "{search}");

    // The read-only instance sees what the writable one did, and cannot write.
    let listed = client
        .call("argocd_list_applications", json!({}))
        .await
        .unwrap();
    assert!(text(&listed).contains("kyverno"), "{}", text(&listed));
    let tools = client.tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|tool| tool.name != "argocd_create_application"),
        "the `argocd` instance stays read-only"
    );
    argocd.assert_no_violations();
}
