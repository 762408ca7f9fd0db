//! Large instances: Application lists of ten thousand applications (well over 100 MB, made
//! while the handler reads them, so the test never holds one either) are listed, searched and
//! counted by reading the answer as a stream, one application at a time, into a page of rows
//! and counts; the request tells the host it is read as a stream. A body that is not an
//! Application list, or that the host cuts at the target's `max_streamed`, is an error that
//! says what happened and what to do.

use std::io::Read;
use std::rc::Rc;

use capstan_sdk::fixture::{Fixture, streamed_body};
use capstan_sdk::http::{HttpError, STREAM_HEADER, STREAM_VALUE};
use capstan_sdk::{Value, json};

use super::{APPS, argocd, fails, ok, parse, recorded};

/// The recorded generated applications the lists are made of: Healthy (0 to 3), Progressing
/// (4), Degraded (10), Suspended (16), OutOfSync after a failed sync (20).
const TEMPLATES: [&str; 8] = [
    recorded!("generated/app-0.json"),
    recorded!("generated/app-1.json"),
    recorded!("generated/app-2.json"),
    recorded!("generated/app-3.json"),
    recorded!("generated/app-4.json"),
    recorded!("generated/app-10.json"),
    recorded!("generated/app-16.json"),
    recorded!("generated/app-20.json"),
];

const TEN_THOUSAND: usize = 10_000;

/// The name of application `n` of a made list: its template's name and the number.
fn name_of(template: &Value, n: usize) -> String {
    format!("{}-{n:05}", template["metadata"]["name"].as_str().unwrap())
}

/// A body of `count` applications (the templates in turn, each under its own name), made
/// piece by piece as it is read.
fn made_list(templates: &Rc<Vec<Value>>, count: usize) -> Box<dyn Read> {
    // Each template serialized once, split where its name goes.
    let halves: Vec<(String, String, String)> = templates
        .iter()
        .map(|template| {
            let mut marked = template.clone();
            marked["metadata"]["name"] = json!("\u{1}");
            let text = marked.to_string();
            let (before, after) = text.split_once("\"\\u0001\"").expect("the marker");
            let name = template["metadata"]["name"].as_str().unwrap().to_owned();
            (before.to_owned(), name, after.to_owned())
        })
        .collect();
    let open =
        std::iter::once(br#"{"metadata": {"resourceVersion": "2000001"}, "items": ["#.to_vec());
    let items = (0..count).map(move |n| {
        let (before, name, after) = &halves[n % halves.len()];
        let comma = if n == 0 { "" } else { "," };
        format!("{comma}{before}\"{name}-{n:05}\"{after}").into_bytes()
    });
    let close = std::iter::once(b"]}".to_vec());
    streamed_body(open.chain(items).chain(close))
}

fn templates() -> Rc<Vec<Value>> {
    Rc::new(TEMPLATES.iter().map(|text| parse(text)).collect())
}

/// The bytes a made list of `count` applications runs to.
fn body_bytes(templates: &Rc<Vec<Value>>, count: usize) -> usize {
    let mut total = 0;
    let mut reader = made_list(templates, count);
    let mut buffer = vec![0; 64 << 10];
    loop {
        match reader.read(&mut buffer).unwrap() {
            0 => return total,
            read => total += read,
        }
    }
}

/// A fixture whose application list is `count` made applications.
fn large(count: usize) -> Fixture {
    let templates = templates();
    argocd().on_reader("GET", APPS, 200, move || made_list(&templates, count))
}

fn counted(counts: &Value) -> u64 {
    counts
        .as_object()
        .unwrap()
        .values()
        .map(|count| count.as_u64().unwrap())
        .sum()
}

#[test]
fn ten_thousand_applications_are_listed_searched_and_counted_from_a_stream() {
    let templates = templates();
    let bytes = body_bytes(&templates, TEN_THOUSAND);
    assert!(bytes > 100_000_000, "the list runs to {bytes} bytes");
    let fixture = large(TEN_THOUSAND);

    let listed = ok(&fixture, "list_applications", json!({}));
    assert_eq!(
        (listed["total"].as_u64(), listed["returned"].as_u64()),
        (Some(10_000), Some(25))
    );
    assert_eq!(listed["nextOffset"], 25);
    assert_eq!(counted(&listed["counts"]["health"]), 10_000);
    assert_eq!(counted(&listed["counts"]["sync"]), 10_000);
    assert_eq!(listed["counts"]["health"]["Degraded"], 1250);
    assert_eq!(listed["applications"][0]["name"], name_of(&templates[0], 0));
    assert!(
        listed.to_string().len() < 8 * 1024,
        "one small page: {listed}"
    );
    let sent = fixture.requests();
    assert_eq!(sent[0].line(), format!("GET {APPS}"));
    assert_eq!(sent[0].header(STREAM_HEADER), Some(STREAM_VALUE));

    let last = ok(
        &fixture,
        "list_applications",
        json!({"offset": 9_990, "limit": 500, "wide": true}),
    );
    assert_eq!(
        (last["returned"].as_u64(), last["hasMore"].as_bool()),
        (Some(10), Some(false))
    );
    assert_eq!(
        last["applications"][9]["name"],
        name_of(&templates[7], 9_999)
    );
    assert!(last["applications"][9]["repo"].is_string(), "{last}");

    let found = ok(&fixture, "list_applications", json!({"search": "-09999"}));
    assert_eq!(found["total"], 1);
    assert_eq!(
        found["applications"][0]["name"],
        name_of(&templates[7], 9_999)
    );
    let degraded = ok(
        &fixture,
        "list_applications",
        json!({"healthStatus": "Degraded", "limit": 3}),
    );
    assert_eq!(degraded["total"], 1250);
    assert_eq!(degraded["counts"]["health"], json!({"Degraded": 1250}));
    assert_eq!(
        degraded["applications"][2]["name"],
        name_of(&templates[5], 21),
        "the third Degraded one, in Argo CD's order"
    );

    let detail = ok(
        &fixture,
        "list_applications",
        json!({"detail": true, "offset": 4_000, "limit": 2}),
    );
    assert_eq!(detail["total"], 10_000);
    assert_eq!(
        detail["applications"][0]["metadata"]["name"],
        name_of(&templates[0], 4_000)
    );
    assert!(detail["applications"][1]["status"]["resources"].is_array());
    assert!(
        detail["applications"][1]["metadata"]
            .get("managedFields")
            .is_none()
    );
}

#[test]
fn a_fleet_of_large_targets_is_counted_keeping_only_the_page() {
    let templates = templates();
    let (eu, us) = (templates.clone(), templates.clone());
    let fixture = Fixture::new()
        .target("eu", "https://argocd-eu.example.com")
        .target("us", "https://argocd-us.example.com")
        .on_reader("GET", APPS, 200, move || made_list(&eu, 6_000))
        .on_reader("GET", APPS, 200, move || made_list(&us, 4_000));
    let answer = ok(
        &fixture,
        "fleet_applications",
        json!({"limit": 5, "offset": 1_000}),
    );
    assert_eq!(answer["listed"], 10_000);
    assert_eq!(answer["total"], 10_000);
    assert_eq!(counted(&answer["counts"]["health"]), 10_000);
    assert_eq!(answer["byTarget"][0]["listed"], 6_000);
    assert_eq!(answer["byTarget"][1]["matched"], 4_000);
    // Degraded first: 750 on eu and 500 on us, then OutOfSync, Healthy last.
    let rows = answer["applications"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|row| row["target"] == "us" && row["health"] == "Degraded"),
        "{rows:?}"
    );
    assert_eq!(answer["nextOffset"], 1_005);
    for sent in fixture.requests() {
        assert_eq!(sent.header(STREAM_HEADER), Some(STREAM_VALUE));
    }
    let healthy = ok(
        &fixture,
        "fleet_applications",
        json!({"name": "-0099", "health": ["Healthy"]}),
    );
    let expected = (990..1000)
        .filter(|n| templates[n % 8]["status"]["health"]["status"] == "Healthy")
        .count()
        * 2;
    assert_eq!(healthy["total"], expected, "{healthy}");
    assert_eq!(healthy["counts"]["health"], json!({"Healthy": expected}));
}

/// Reads `head`, then fails as the host fails a body it cut at the target's `max_streamed`.
struct Cut(std::io::Cursor<Vec<u8>>);

impl Read for Cut {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other(HttpError::Transport {
                url: format!("{}{APPS}", super::BASE),
                message: "the response body is larger than 1 GiB, the most capstan reads of a \
                          body streamed from this target: narrow the request, or raise the \
                          target's `max_streamed` in the capstan manifest"
                    .into(),
            })),
            read => Ok(read),
        }
    }
}

fn cut() -> Box<dyn Read> {
    let head = format!(r#"{{"metadata": {{}}, "items": [{}, "#, TEMPLATES[0].trim());
    Box::new(Cut(std::io::Cursor::new(head.into_bytes())))
}

#[test]
fn a_list_cut_at_max_streamed_says_how_to_narrow_it() {
    let fixture = argocd().on_reader("GET", APPS, 200, cut);
    let message = fails(&fixture, "list_applications", json!({}));
    assert!(
        message.starts_with("GET /api/v1/applications to Argo CD target `prod` failed: request to")
            && message.contains("larger than 1 GiB")
            && message.contains("Narrow the request (for lists: projects, selector, repo or appNamespace), or raise the target's `max_streamed`"),
        "{message}"
    );
    let fleet = Fixture::new()
        .target("eu", "https://argocd-eu.example.com")
        .target("us", "https://argocd-us.example.com")
        .on_reader("GET", APPS, 200, cut)
        .on_reader("GET", APPS, 200, || made_list(&templates(), 3));
    let answer = ok(&fleet, "fleet_applications", json!({}));
    assert_eq!(answer["listed"], 3);
    assert_eq!(answer["failed"][0]["target"], "eu");
    assert_eq!(answer["failed"][0]["reason"], "too_large");
    let why = answer["failed"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("larger than 1 GiB") && why.contains("raise target `eu`'s `max_streamed`"),
        "{why}"
    );
}

#[test]
fn a_body_that_is_not_an_application_list_is_an_error_that_says_so() {
    let app = TEMPLATES[0].trim();
    let cases = [
        (
            "<html><body>Sign in to continue</body></html>".to_owned(),
            "(expected value at line 1 column 1): \"<html><body>Sign in to continue</body></html>\"",
        ),
        (
            format!(r#"{{"items": [{app}, {app}"#),
            "EOF while parsing a list",
        ),
        (
            r#"{"items": {"metadata": {}}}"#.to_owned(),
            "invalid type: map, expected an array of Applications or null",
        ),
        (
            r#"[{"metadata": {"name": "web"}}]"#.to_owned(),
            "invalid type: sequence, expected an Application list (an object with `items`)",
        ),
        (
            r#"{"items": [{"metadata": {"name": 7}}]}"#.to_owned(),
            "invalid type: integer `7`, expected a string",
        ),
        (
            r#"{"items": []} {"items": []}"#.to_owned(),
            "trailing characters",
        ),
    ];
    for (body, reason) in cases {
        let fixture = argocd().on("GET", APPS, 200, &body);
        let message = fails(&fixture, "list_applications", json!({}));
        assert!(
            message.starts_with(
                "Argo CD target `prod` answered GET /api/v1/applications with a body that is not JSON"
            ) && message.contains(reason)
                && message.contains("points at the Argo CD API server"),
            "{body}: {message}"
        );
        if !reason.contains("integer `7`") {
            // Full objects take any JSON value as a name; rows need a string.
            let detail = fails(&fixture, "list_applications", json!({"detail": true}));
            assert!(
                detail.contains("not JSON") && detail.contains(reason),
                "{detail}"
            );
        }
        let fleet = fails(&fixture, "fleet_applications", json!({}));
        assert!(
            fleet.contains("prod: answered with a body that is not an Application list")
                && fleet.contains(reason),
            "{fleet}"
        );
    }
}

#[test]
fn an_error_answer_to_a_streamed_list_is_quoted_as_before() {
    let fixture = argocd().on_status_json("GET", APPS, 403, recorded!("errors/403.json"));
    let message = fails(&fixture, "list_applications", json!({}));
    assert!(
        message.contains("HTTP 403 (gRPC code 7 PermissionDenied) to GET /api/v1/applications")
            && message.contains("check with can_i"),
        "{message}"
    );
}
