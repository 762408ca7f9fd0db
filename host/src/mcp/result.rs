//! Shaping tool results for the agent: the size cap, and notes about refused requests.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::runtime::TooLarge;

/// Caps `result` at `cap` bytes of JSON. An oversized result keeps the start of its text and
/// gains a marker saying how to narrow the request; its structured content is dropped (it
/// cannot be cut and stay valid), which makes it an error when the tool promised structured
/// output.
pub fn cap_size(result: CallToolResult, cap: usize, has_output_schema: bool) -> CallToolResult {
    let size = serialized_size(&result);
    if size <= cap {
        return result;
    }
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    let is_error = result.is_error.unwrap_or(false) || has_output_schema;
    truncated(&text, size, cap, is_error)
}

/// The result for a guest answer that was over `cap` before the host read it: the start of its
/// text and the same marker [`cap_size`] adds.
pub fn too_large(start: TooLarge, cap: usize, has_output_schema: bool) -> CallToolResult {
    let is_error = start.is_error || has_output_schema;
    truncated(&start.text, start.size, cap, is_error)
}

fn truncated(text: &str, size: usize, cap: usize, is_error: bool) -> CallToolResult {
    let keep = floor_char_boundary(text, cap.saturating_sub(1024));
    let marker = format!(
        "\n\n[capstan: result truncated: {size} bytes exceed the {cap}-byte limit. Narrow the request (filters, a smaller `limit`, fewer fields) to get the whole answer.]"
    );
    let content = vec![ContentBlock::text(format!("{}{marker}", &text[..keep]))];
    if is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

/// The length of `result` as JSON, counted without building the text.
fn serialized_size(result: &CallToolResult) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, result) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// Distinct refusals reported in full; more are counted in the last note.
const MAX_DENIAL_NOTES: usize = 5;

/// The refusals of one call as the agent will read them: the first few distinct ones (URL and
/// reason) in full, the rest only counted, so a guest that refuses itself in a loop cannot
/// grow host memory or flood the result.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Denials {
    noted: Vec<(String, String)>,
    more: usize,
}

impl Denials {
    /// Adds a refusal, in full when it is new and there is room, else to the count.
    pub fn add(&mut self, url: String, reason: String) {
        if self.noted.iter().any(|(u, r)| *u == url && *r == reason) {
            return;
        }
        if self.noted.len() < MAX_DENIAL_NOTES {
            self.noted.push((url, reason));
        } else {
            self.more += 1;
        }
    }
}

/// Appends a note per refusal kept in full, and one counting the rest, to the result.
pub fn note_denials(mut result: CallToolResult, denials: &Denials) -> CallToolResult {
    for (url, reason) in &denials.noted {
        result.content.push(ContentBlock::text(format!(
            "capstan refused a request to {url}: {reason}"
        )));
    }
    if denials.more > 0 {
        result.content.push(ContentBlock::text(format!(
            "capstan refused {} more requests; see its audit log",
            denials.more
        )));
    }
    result
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_refusals_keeps_a_few_notes_and_a_count() {
        let mut denials = Denials::default();
        for n in 0..10_000 {
            denials.add(format!("http://x.test/{n}"), "no".into());
            denials.add("http://x.test/0".into(), "no".into());
        }
        assert_eq!(denials.noted.len(), MAX_DENIAL_NOTES);
        assert_eq!(denials.more, 10_000 - MAX_DENIAL_NOTES);
        let noted = note_denials(CallToolResult::success(vec![]), &denials);
        assert_eq!(noted.content.len(), MAX_DENIAL_NOTES + 1);
        let last = &noted.content[MAX_DENIAL_NOTES].as_text().unwrap().text;
        assert!(last.contains("9995 more requests"), "{last}");
    }

    #[test]
    fn small_results_pass_unchanged() {
        let result = CallToolResult::success(vec![ContentBlock::text("hello")]);
        assert_eq!(cap_size(result.clone(), 1024, false), result);
    }

    #[test]
    fn oversized_results_are_cut_with_a_marker() {
        let result = CallToolResult::success(vec![ContentBlock::text("é".repeat(10_000))]);
        let capped = cap_size(result, 4096, false);
        let text = &capped.content[0].as_text().unwrap().text;
        assert!(serde_json::to_vec(&capped).unwrap().len() <= 4096);
        assert!(text.contains("result truncated"));
        assert_eq!(capped.is_error, Some(false));
    }

    #[test]
    fn an_answer_over_the_cap_before_reading_gets_the_same_marker() {
        let start = TooLarge {
            size: 100 << 20,
            text: "x".repeat(4096),
            is_error: false,
        };
        let capped = too_large(start, 4096, true);
        let text = &capped.content[0].as_text().unwrap().text;
        assert!(serde_json::to_vec(&capped).unwrap().len() <= 4096);
        assert!(text.contains("result truncated: 104857600 bytes"), "{text}");
        assert_eq!(capped.is_error, Some(true));
    }

    #[test]
    fn cutting_structured_output_is_an_error() {
        let mut result = CallToolResult::success(vec![ContentBlock::text("x".repeat(5000))]);
        result.structured_content = Some(serde_json::json!({"big": "x".repeat(5000)}));
        let capped = cap_size(result, 4096, true);
        assert_eq!(capped.is_error, Some(true));
        assert!(capped.structured_content.is_none());
    }
}
