//! Typed views of Argo CD's JSON that read as leniently as indexing a `serde_json::Value`: a
//! field of another type than expected reads as absent (an empty string, a default object),
//! never as an error. So a typed parse answers exactly what the `Value` code it replaces did,
//! while skipping every field it does not name and borrowing strings from the body.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// How a lenient type is made from each kind of JSON value; any other kind reads as its
/// default.
trait Lenient<'de>: Default {
    fn from_text(_text: Cow<'de, str>) -> Self {
        Self::default()
    }

    fn from_bool(_value: bool) -> Self {
        Self::default()
    }

    fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }

    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
}

/// Reads any JSON value into a [`Lenient`] type.
struct Any<T>(PhantomData<T>);

fn any<'de, T: Lenient<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(Any(PhantomData))
}

impl<'de, T: Lenient<'de>> Visitor<'de> for Any<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<T, E> {
        Ok(T::from_bool(value))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        any(deserializer)
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<T, E> {
        Ok(T::from_text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok(T::from_text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<T, E> {
        Ok(T::from_text(Cow::Owned(text)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_seq(seq)
    }
}

/// A string field: the string (borrowed from the body unless it has escapes), else empty.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    /// The string, or "" (as `summary::text` reads a `Value`).
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }

    /// The string, or `default` when missing or empty (as `summary::text_or`).
    pub(crate) fn or<'s>(&'s self, default: &'s str) -> &'s str {
        match self.as_str() {
            "" => default,
            text => text,
        }
    }
}

impl<'de: 'a, 'a> Lenient<'de> for Text<'a> {
    fn from_text(text: Cow<'de, str>) -> Self {
        Self(Some(text))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        any(deserializer)
    }
}

/// A string field that must be a string when it is set (`null` reads as empty): an
/// Application's name, which rows cannot do without.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Name<'a>(Text<'a>);

impl<'a> Deref for Name<'a> {
    type Target = Text<'a>;

    fn deref(&self) -> &Text<'a> {
        &self.0
    }
}

/// Reads a [`Name`].
struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Text<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text::default())
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Borrowed(text))))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(text.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(text))))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NameVisitor).map(Name)
    }
}

/// A boolean field: `Some` only when it is a JSON boolean.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Flag(Option<bool>);

impl Flag {
    /// Whether the field is the JSON `false` (`value == false` of a `Value`).
    pub(crate) fn is_false(self) -> bool {
        self.0 == Some(false)
    }

    /// Whether the field is the JSON `true` (`value == true` of a `Value`).
    pub(crate) fn is_true(self) -> bool {
        self.0 == Some(true)
    }
}

impl Lenient<'_> for Flag {
    fn from_bool(value: bool) -> Self {
        Self(Some(value))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        any(deserializer)
    }
}

/// A count field: the number when it is a non-negative integer (`Value::as_u64`), else none.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Count(Option<u64>);

impl Count {
    /// The number, as `Value::as_u64` reads it.
    pub(crate) fn get(self) -> Option<u64> {
        self.0
    }
}

/// Reads a [`Count`].
struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Count, E> {
        Ok(Count(Some(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Count, E> {
        Ok(Count(u64::try_from(value).ok()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
        Ok(Count(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Count(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Count(None))
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CountVisitor)
    }
}

/// An array field's elements as `T`s, else none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Items<T>(Vec<T>);

impl<T> Default for Items<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Deref for Items<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Lenient<'de> for Items<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(Self(items))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        any(deserializer)
    }
}

/// An object field read as a `T` (whose own fields are lenient), else `T`'s default.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Obj<T> {
    value: T,
    object: bool,
}

impl<T> Obj<T> {
    /// Whether the field is a JSON object.
    pub(crate) fn is_object(&self) -> bool {
        self.object
    }

    /// What was read.
    pub(crate) fn into_inner(self) -> T {
        self.value
    }
}

impl<T> From<T> for Obj<T> {
    /// An object read as `value`.
    fn from(value: T) -> Self {
        Self {
            value,
            object: true,
        }
    }
}

impl<T> Deref for Obj<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de> + Default> Lenient<'de> for Obj<T> {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let value = T::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Self {
            value,
            object: true,
        })
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        any(deserializer)
    }
}

/// An array field's first element as a `T`, else `T`'s default.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct First<T>(T);

impl<T> Deref for First<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de> + Default> Lenient<'de> for First<T> {
    fn from_seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let first = seq.next_element::<T>()?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self(first))
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        any(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use capstan_sdk::json;
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct View<'a> {
        #[serde(borrow)]
        name: Text<'a>,
        #[serde(borrow)]
        inner: Obj<Inner<'a>>,
        #[serde(borrow)]
        first: First<Obj<Inner<'a>>>,
        enabled: Flag,
        #[serde(borrow)]
        list: Items<Obj<Inner<'a>>>,
        count: Count,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Inner<'a> {
        #[serde(borrow)]
        name: Text<'a>,
    }

    #[test]
    fn fields_of_another_type_read_as_absent_as_a_value_index_does() {
        let values = [
            json!({"name": "a", "inner": {"name": "b"}, "first": [{"name": "c"}, 1], "enabled": false,
                   "list": [{"name": "d"}, 2, {"name": 3}], "count": 4}),
            json!({"name": 1, "inner": "x", "first": {"name": "c"}, "enabled": true, "list": {"name": "d"},
                   "count": -4}),
            json!({"count": 4.0, "list": null}),
            json!({"count": "4", "list": [[]]}),
            json!({"name": null, "inner": [{"name": "b"}], "first": [null], "enabled": null}),
            json!({"name": {"a": [1]}, "inner": {"name": ["b"]}, "first": "c", "enabled": 0}),
            json!({"name": "e\"s\\c", "inner": null, "first": [], "other": {"deep": [1, {"x": 2}]}}),
        ];
        for value in values {
            let text = value.to_string();
            for view in [
                View::deserialize(&value).unwrap(),
                serde_json::from_str(&text).unwrap(),
            ] {
                assert_eq!(view.name.as_str(), value["name"].as_str().unwrap_or(""));
                assert_eq!(view.inner.is_object(), value["inner"].is_object());
                assert_eq!(
                    view.inner.name.as_str(),
                    value["inner"]["name"].as_str().unwrap_or("")
                );
                assert_eq!(
                    view.first.name.as_str(),
                    value["first"][0]["name"].as_str().unwrap_or("")
                );
                assert_eq!(view.enabled.is_false(), value["enabled"] == false);
                assert_eq!(view.enabled.is_true(), value["enabled"] == true);
                assert_eq!(view.count.get(), value["count"].as_u64());
                let names: Vec<&str> = view.list.iter().map(|inner| inner.name.as_str()).collect();
                let expected: Vec<&str> = value["list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|inner| inner["name"].as_str().unwrap_or(""))
                    .collect();
                assert_eq!(names, expected);
            }
        }
        let borrowed: View<'_> = serde_json::from_str(r#"{"name": "plain"}"#).unwrap();
        assert!(matches!(borrowed.name.0, Some(Cow::Borrowed("plain"))));
        assert_eq!(Text::default().or("Unknown"), "Unknown");
    }
}
