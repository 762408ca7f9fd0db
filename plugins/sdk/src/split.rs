//! Finding the elements of a list's `items` array in a JSON byte stream, so that each element
//! is parsed on its own from a slice (`serde_json`'s fast path) while the body streams past:
//! memory holds one chunk and the largest single element, never the list.
//!
//! [`Splitter`] tracks only what element boundaries need: nesting depth, strings (with their
//! escapes) and the key of each member of the top-level object. It does not check the JSON;
//! instead it hands on a *skeleton*: the body with every element of `items` replaced by `0`.
//! The caller parses the skeleton with `serde_json` (which reports any error in the
//! structure around the elements) and each element with `serde_json::from_slice` (which
//! reports any error inside one). Putting the elements back into a valid skeleton gives the
//! body again, so the body is valid JSON exactly when the skeleton and every element are.
//!
//! `serde_json`'s `StreamDeserializer` reads only values separated by whitespace, and its
//! reader mode goes byte by byte through `std::io::Read`, hence this small splitter.

/// The longest key of the top-level object that is compared with `items` (an escaped
/// spelling of `items` is at most 30 bytes; a longer key is some other key).
const MAX_KEY: usize = 64;

/// The placeholder each element leaves in the skeleton.
const PLACEHOLDER: u8 = b'0';

/// The nesting depth of the elements of the top-level object's `items` array.
const ELEMENT_DEPTH: u32 = 2;

/// Splits a JSON body, fed in chunks of any size, into the elements of its top-level
/// `items` array and a skeleton of the rest.
#[derive(Debug, Default)]
pub struct Splitter {
    /// Containers open at the current byte.
    depth: u32,
    /// Inside a string.
    in_string: bool,
    /// The previous byte, inside a string, was a backslash (across chunks).
    escaped: bool,
    /// The top-level value is an object.
    object_at_top: bool,
    /// The next string at depth 1 is a key (after `{` or `,`).
    expect_key: bool,
    /// A key at depth 1 is being read.
    in_key: bool,
    /// The key being read, as spelled (up to [`MAX_KEY`] bytes).
    key: Vec<u8>,
    /// The key was longer than [`MAX_KEY`].
    key_overflow: bool,
    /// The last key read at depth 1 was `items`.
    after_items_key: bool,
    /// Inside the top-level `items` array.
    in_items: bool,
    /// An element has started and not ended.
    in_element: bool,
    /// The started element's bytes from earlier chunks.
    carried: Vec<u8>,
}

/// One chunk being split: where the skeleton bytes and the element bytes of the chunk
/// start.
struct Marks {
    /// Bytes from here on belong to the skeleton (when no element is open).
    copy_from: usize,
    /// The open element's bytes in this chunk start here.
    element_from: usize,
    /// A key's bytes in this chunk start here.
    key_from: usize,
}

impl Splitter {
    /// A splitter at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits `chunk`, the next bytes of the body: appends the skeleton's bytes to `skeleton`
    /// and hands each element that ends in it to `each`, whole (trailing whitespace
    /// included). The first error of `each` stops the split and is returned.
    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        skeleton: &mut Vec<u8>,
        each: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut marks = Marks {
            copy_from: 0,
            element_from: 0,
            key_from: 0,
        };
        let mut at = 0;
        while at < chunk.len() {
            at = if self.in_string {
                self.string(chunk, at, &mut marks)
            } else {
                self.structure(chunk, at, &mut marks, skeleton, each)?
            };
        }
        self.chunk_end(chunk, &marks, skeleton);
        Ok(())
    }

    /// Skips string content from `at`; answers where to go on.
    fn string(&mut self, chunk: &[u8], at: usize, marks: &mut Marks) -> usize {
        if self.escaped {
            self.escaped = false;
            return at + 1;
        }
        let Some(found) = chunk[at..].iter().position(|&b| b == b'"' || b == b'\\') else {
            return chunk.len();
        };
        let at = at + found;
        if chunk[at] == b'\\' {
            self.escaped = true;
            return at + 1;
        }
        self.in_string = false;
        if self.in_key {
            self.end_key(&chunk[marks.key_from..at]);
        }
        at + 1
    }

    /// Handles one byte outside strings; answers where to go on.
    fn structure<E>(
        &mut self,
        chunk: &[u8],
        at: usize,
        marks: &mut Marks,
        skeleton: &mut Vec<u8>,
        each: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let byte = chunk[at];
        let element_level = self.in_items && self.depth == ELEMENT_DEPTH;
        if element_level {
            match byte {
                b',' | b']' | b'}' => self.end_element(chunk, at, marks, each)?,
                b' ' | b'\t' | b'\n' | b'\r' => {}
                _ if !self.in_element => self.start_element(chunk, at, marks, skeleton),
                _ => {}
            }
        }
        match byte {
            b'"' => return Ok(self.open_string(chunk, at, marks)),
            b'{' | b'[' => self.open(byte),
            b'}' | b']' => self.close(),
            b',' if self.depth == 1 && self.object_at_top => {
                self.expect_key = true;
                self.after_items_key = false;
            }
            _ => {}
        }
        Ok(at + 1)
    }

    /// A string starts at `at`: skips it; answers where to go on.
    fn open_string(&mut self, chunk: &[u8], at: usize, marks: &mut Marks) -> usize {
        self.in_string = true;
        if self.depth == 1 && self.expect_key {
            self.expect_key = false;
            self.in_key = true;
            self.key.clear();
            self.key_overflow = false;
            marks.key_from = at + 1;
        }
        let mut at = at + 1;
        while self.in_string && at < chunk.len() {
            at = self.string(chunk, at, marks);
        }
        at
    }

    fn open(&mut self, byte: u8) {
        self.depth = self.depth.saturating_add(1);
        if self.depth == 1 {
            self.object_at_top = byte == b'{';
            self.expect_key = self.object_at_top;
        } else if self.depth == ELEMENT_DEPTH && byte == b'[' && self.after_items_key {
            self.in_items = true;
        }
    }

    fn close(&mut self) {
        if self.depth == ELEMENT_DEPTH {
            self.in_items = false;
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// Adds the key's bytes in this chunk (`part`) and notes whether the key is `items`.
    fn end_key(&mut self, part: &[u8]) {
        self.add_key(part);
        self.in_key = false;
        self.after_items_key = !self.key_overflow && is_items(&self.key);
    }

    fn add_key(&mut self, part: &[u8]) {
        if self.key.len() + part.len() > MAX_KEY {
            self.key_overflow = true;
        } else {
            self.key.extend_from_slice(part);
        }
    }

    /// An element starts at `at`: the skeleton so far is copied out, with the placeholder.
    fn start_element(&mut self, chunk: &[u8], at: usize, marks: &mut Marks, out: &mut Vec<u8>) {
        out.extend_from_slice(&chunk[marks.copy_from..at]);
        out.push(PLACEHOLDER);
        self.in_element = true;
        marks.element_from = at;
    }

    /// The delimiter at `at` ends the open element, if any: it goes to `each`.
    fn end_element<E>(
        &mut self,
        chunk: &[u8],
        at: usize,
        marks: &mut Marks,
        each: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.in_element {
            return Ok(());
        }
        self.in_element = false;
        marks.copy_from = at;
        let part = &chunk[marks.element_from..at];
        if self.carried.is_empty() {
            return each(part);
        }
        self.carried.extend_from_slice(part);
        let result = each(&self.carried);
        self.carried.clear();
        result
    }

    /// Keeps what continues into the next chunk: the open element's or key's bytes; the rest
    /// of the chunk goes to the skeleton.
    fn chunk_end(&mut self, chunk: &[u8], marks: &Marks, skeleton: &mut Vec<u8>) {
        if self.in_element {
            self.carried.extend_from_slice(&chunk[marks.element_from..]);
        } else {
            skeleton.extend_from_slice(&chunk[marks.copy_from..]);
        }
        if self.in_key {
            self.add_key(&chunk[marks.key_from..]);
        }
    }
}

/// Whether a key, as spelled between its quotes, is `items` (escapes decoded).
fn is_items(spelled: &[u8]) -> bool {
    if !spelled.contains(&b'\\') {
        return spelled == b"items";
    }
    let mut quoted = Vec::with_capacity(spelled.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(spelled);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).is_ok_and(|key| key == "items")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    /// Splits `body` in chunks of `sizes` (cycled): the elements and the skeleton.
    fn split(body: &[u8], sizes: &[usize]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut splitter = Splitter::new();
        let (mut elements, mut skeleton) = (Vec::new(), Vec::new());
        let mut each = |element: &[u8]| -> Result<(), ()> {
            elements.push(element.to_vec());
            Ok(())
        };
        let mut rest = body;
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at((*size).clamp(1, rest.len()));
            splitter.feed(chunk, &mut skeleton, &mut each).unwrap();
            rest = after;
        }
        (elements, skeleton)
    }

    /// The body's items as `serde_json` reads them, or `None` when it is not JSON.
    fn expected(body: &[u8]) -> Option<Vec<Value>> {
        let value: Value = serde_json::from_slice(body).ok()?;
        Some(match value.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        })
    }

    /// What the split makes of the body: its items, or `None` when the skeleton or an
    /// element is not JSON.
    fn parsed(body: &[u8], sizes: &[usize]) -> Option<Vec<Value>> {
        let (elements, skeleton) = split(body, sizes);
        serde_json::from_slice::<Value>(&skeleton).ok()?;
        elements
            .iter()
            .map(|element| serde_json::from_slice(element).ok())
            .collect()
    }

    #[test]
    fn elements_are_found_around_strings_escapes_and_nesting() {
        let body =
            br#" { "metadata" : {"items": [9]}, "it\u0065ms" : [ {"a": "x]\"},["}, [[1], {}] ,
            "s\\", 12.5e1 , null,true ] , "after": [1] } "#;
        for size in [1, 2, 3, 7, 64, body.len()] {
            let (elements, skeleton) = split(body, &[size]);
            let elements: Vec<Value> = elements
                .iter()
                .map(|e| serde_json::from_slice(e).unwrap())
                .collect();
            assert_eq!(
                elements,
                [
                    json!({"a": "x]\"},["}),
                    json!([[1], {}]),
                    json!("s\\"),
                    json!(125.0),
                    json!(null),
                    json!(true)
                ],
                "chunks of {size}"
            );
            let skeleton: Value = serde_json::from_slice(&skeleton).unwrap();
            assert_eq!(skeleton["items"], json!([0, 0, 0, 0, 0, 0]));
            assert_eq!(skeleton["metadata"], json!({"items": [9]}));
        }
    }

    #[test]
    fn broken_lists_leave_a_broken_skeleton_or_element() {
        for body in [
            &br#"{"items": [1,]}"#[..],
            br#"{"items": [,1]}"#,
            br#"{"items": [1 2]}"#,
            br#"{"items": [{"a": 1}"#,
            br#"{"items": [{"a": }]}"#,
            br#"{"items": [1}"#,
            br#"<html>"#,
            br#"{"items": []} {"#,
        ] {
            assert_eq!(
                parsed(body, &[3]),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(parsed(br#"{"items": null}"#, &[1]), Some(Vec::new()));
        assert_eq!(parsed(b"{}", &[1]), Some(Vec::new()));
    }

    /// Any JSON value, strings full of the characters the splitter watches.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "[\\[\\]{}\",:\\\\ \\u{0}-\\u{1f}a-z\\u{e9}\\u{1f600}]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\]\\[]{0,6}|items", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    /// A list body: other members around `items` (or none), written compact or pretty.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec(value(), 0..8),
            value(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(items, other, pretty, with_items)| {
                let mut list = json!({"metadata": other, "zz": other});
                if with_items {
                    list["items"] = Value::Array(items);
                }
                if pretty {
                    serde_json::to_vec_pretty(&list).unwrap()
                } else {
                    serde_json::to_vec(&list).unwrap()
                }
            })
    }

    proptest! {
        #[test]
        fn the_split_agrees_with_serde_json(
            body in body(),
            sizes in prop::collection::vec(1usize..40, 1..6),
        ) {
            prop_assert_eq!(parsed(&body, &sizes), expected(&body));
        }

        #[test]
        fn a_damaged_body_splits_into_json_only_when_it_is_json(
            body in body(),
            cut in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[]\",:\\ 0an".to_vec()),
            sizes in prop::collection::vec(1usize..40, 1..6),
        ) {
            let mut damaged = body.clone();
            let at = cut.index(damaged.len());
            damaged.insert(at, byte);
            prop_assert_eq!(parsed(&damaged, &sizes), expected(&damaged));
            damaged.truncate(at);
            prop_assert_eq!(parsed(&damaged, &sizes), expected(&damaged));
        }
    }
}
