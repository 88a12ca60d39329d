//! A new event's payload in the store's canonical JSON form ([`CanonicalJson`]), written straight
//! from any `Serialize` value by a serializer of its own: no `serde_json::Value` tree is built
//! and freed per event (for the bulk importers, building and freeing those trees was a third of
//! the client's time).
//!
//! The form is the one [`super::digest`] defines for trees: object keys sorted (byte order of
//! the unescaped key, as `serde_json`'s `BTreeMap` sorts them), a repeated key keeping its last
//! value (as a map insert does), no white space, strings, numbers, booleans and null as
//! `serde_json` writes them, map keys as `serde_json::to_value` turns them into strings. A unit
//! test holds the two writers equal over the domain's events and awkward values.

use std::fmt::Display;

use serde::ser::{self, Serialize};
use serde_json::Value;

use crate::store::digest::write_canonical_json;

/// JSON text in the canonical form, and whether a string or key in it holds a NUL character
/// (which the store refuses; found while the text was written).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CanonicalJson {
    text: String,
    has_nul: bool,
}

impl CanonicalJson {
    /// `value` written in the canonical form, without an intermediate tree. Fails where
    /// `serde_json::to_value` would (a map key that is not a string or a number, a value whose
    /// `Serialize` fails).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let mut out = Vec::with_capacity(512);
        let mut has_nul = false;
        let mut entries = Vec::new();
        value.serialize(Canonical {
            out: &mut out,
            nul: &mut has_nul,
            entries: &mut entries,
        })?;
        Ok(Self {
            text: into_text(out),
            has_nul,
        })
    }

    /// `part`, a value inside `whole`'s text (a slice of it that is itself a JSON value), as
    /// canonical JSON of its own: what is canonical in a whole is canonical in its parts.
    pub(crate) fn from_canonical_part(whole: &Self, part: &str) -> Self {
        Self {
            text: part.to_owned(),
            has_nul: whole.has_nul && part.contains("\\u0000"),
        }
    }

    /// `{}`.
    pub fn empty_object() -> Self {
        Self {
            text: "{}".to_owned(),
            has_nul: false,
        }
    }

    /// Whether the value is an object (the text has no white space before its `{`).
    pub fn is_object(&self) -> bool {
        self.text.starts_with('{')
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a string or a key holds a NUL character.
    pub fn has_nul(&self) -> bool {
        self.has_nul
    }

    /// The JSON as a tree.
    pub fn to_value(&self) -> Value {
        // The text was written from a serialisable value: it parses. Should it not, `null`.
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

impl From<&Value> for CanonicalJson {
    fn from(value: &Value) -> Self {
        let mut out = Vec::with_capacity(256);
        let has_nul = write_canonical_json(value, &mut out);
        Self {
            text: into_text(out),
            has_nul,
        }
    }
}

impl From<Value> for CanonicalJson {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl Serialize for CanonicalJson {
    /// As the JSON it holds, not as a string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.text.clone())
            .map_err(ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for CanonicalJson {
    /// Any JSON, written in the canonical form.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

impl Display for CanonicalJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Bytes this module wrote (UTF-8: serde_json's and ours) as a string.
fn into_text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

type Error = serde_json::Error;

/// The serializer: writes one value into `out`.
struct Canonical<'a> {
    out: &'a mut Vec<u8>,
    nul: &'a mut bool,
    /// The entries of the objects being written, innermost last (one stack for the whole value,
    /// rather than a list of each object's own).
    entries: &'a mut Vec<Entry>,
}

impl Canonical<'_> {
    fn leaf<T: Serialize + ?Sized>(self, leaf: &T) -> Result<(), Error> {
        serde_json::to_writer(&mut *self.out, leaf)
    }

    fn text(self, text: &str) -> Result<(), Error> {
        write_string(self.out, self.nul, text)
    }

    fn object(self) -> Object<Self> {
        let start = self.out.len();
        self.out.push(b'{');
        Object {
            start,
            first_entry: self.entries.len(),
            written: 0,
            pending_key: None,
            writer: self,
        }
    }

    fn array(self) -> Array<Self> {
        self.out.push(b'[');
        Array {
            first: true,
            writer: self,
        }
    }

    /// `{"variant": ...}` opened: the caller writes the value, then `}`.
    fn open_variant(&mut self, variant: &str) -> Result<(), Error> {
        self.out.push(b'{');
        write_string(self.out, self.nul, variant)?;
        self.out.push(b':');
        Ok(())
    }

    fn reborrow(&mut self) -> Canonical<'_> {
        Canonical {
            out: self.out,
            nul: self.nul,
            entries: self.entries,
        }
    }
}

/// `text` as a JSON string, as `serde_json` writes it; notes a NUL in `nul`. Text with nothing to
/// escape (most of it) is copied as it is.
fn write_string(out: &mut Vec<u8>, nul: &mut bool, text: &str) -> Result<(), Error> {
    // Every byte looked at, without an early exit: the compiler turns this into vector code,
    // where a search that stops at the first escape would go a byte at a time.
    let escapes = text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    let plain = !escapes;
    if plain {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    *nul |= text.contains('\0');
    serde_json::to_writer(&mut *out, text)
}

impl<'a> ser::Serializer for Canonical<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<Canonical<'a>>;
    type SerializeTuple = Array<Canonical<'a>>;
    type SerializeTupleStruct = Array<Canonical<'a>>;
    type SerializeTupleVariant = Variant<Array<Canonical<'a>>>;
    type SerializeMap = Object<Canonical<'a>>;
    type SerializeStruct = Object<Canonical<'a>>;
    type SerializeStructVariant = Variant<Object<Canonical<'a>>>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        // As `to_value`: a number only when it fits 64 bits.
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(small), _) => self.leaf(&small),
            (_, Ok(unsigned)) => self.leaf(&unsigned),
            _ => Err(ser::Error::custom("number out of range")),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.leaf(&v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        match u64::try_from(v) {
            Ok(small) => self.leaf(&small),
            Err(_) => Err(ser::Error::custom("number out of range")),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        // As `to_value`: a tree keeps the f32 widened to f64 (null when not finite).
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            self.leaf(&v)
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.text(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.text(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        // As `to_value`: an array of numbers.
        self.leaf(v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(self.reborrow())?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Ok(self.array())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Ok(self.array())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Ok(self.array())
    }
    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        self.open_variant(variant)?;
        Ok(Variant(self.array()))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Ok(self.object())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Ok(self.object())
    }
    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.open_variant(variant)?;
        Ok(Variant(self.object()))
    }
}

/// An array being written.
struct Array<W> {
    first: bool,
    writer: W,
}

impl<'a> Array<Canonical<'a>> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(self.writer.reborrow())
    }

    fn close(self) -> Result<Canonical<'a>, Error> {
        self.writer.out.push(b']');
        Ok(self.writer)
    }
}

impl<'a> ser::SerializeSeq for Array<Canonical<'a>> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close().map(drop)
    }
}

impl<'a> ser::SerializeTuple for Array<Canonical<'a>> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close().map(drop)
    }
}

impl<'a> ser::SerializeTupleStruct for Array<Canonical<'a>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.close().map(drop)
    }
}

/// A key of an object: a field name (borrowed for the life of the program) or a map key.
enum Key {
    Field(&'static str),
    Owned(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Self::Field(name) => name,
            Self::Owned(name) => name,
        }
    }
}

/// One entry written: its key, and where its `"key":value` bytes are in the output.
struct Entry {
    key: Key,
    bytes: std::ops::Range<usize>,
}

/// An object being written: each entry goes to the output as it comes, and [`Object::close`]
/// puts the entries in key order when they did not come in it (struct fields come in the order
/// they are declared).
struct Object<W> {
    /// Where the object's `{` is.
    start: usize,
    /// Where the object's entries start on the writer's stack of entries.
    first_entry: usize,
    /// Entries written so far.
    written: usize,
    /// A map's key, waiting for its value.
    pending_key: Option<Key>,
    writer: W,
}

impl<'a> Object<Canonical<'a>> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: Key, value: &T) -> Result<(), Error> {
        let out = &mut *self.writer.out;
        if self.written > 0 {
            out.push(b',');
        }
        let start = out.len();
        write_string(out, self.writer.nul, key.as_str())?;
        out.push(b':');
        value.serialize(self.writer.reborrow())?;
        self.writer.entries.push(Entry {
            key,
            bytes: start..self.writer.out.len(),
        });
        self.written += 1;
        Ok(())
    }

    /// Ends the object: `}`, after putting its entries in key order if they are not (the last
    /// of a repeated key kept). Gives the writer back.
    fn close(self) -> Result<Canonical<'a>, Error> {
        let Self {
            start,
            first_entry,
            writer,
            ..
        } = self;
        let entries = &mut writer.entries[first_entry..];
        let in_order = entries
            .windows(2)
            .all(|pair| pair[0].key.as_str() < pair[1].key.as_str());
        let out = &mut *writer.out;
        if !in_order {
            // The entries in key order go after the body, then over it.
            let body_start = start + 1;
            let body_end = out.len();
            // A stable sort keeps repeated keys in the order written: the last one wins.
            entries.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            let mut first = true;
            for (i, entry) in entries.iter().enumerate() {
                let repeated_later = entries
                    .get(i + 1)
                    .is_some_and(|next| next.key.as_str() == entry.key.as_str());
                if repeated_later {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_within(entry.bytes.clone());
            }
            let sorted = out.len() - body_end;
            out.copy_within(body_end.., body_start);
            out.truncate(body_start + sorted);
        }
        writer.entries.truncate(first_entry);
        out.push(b'}');
        Ok(writer)
    }
}

impl<'a> ser::SerializeMap for Object<Canonical<'a>> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.pending_key = Some(Key::Owned(key.serialize(MapKey)?));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| ser::Error::custom("a map value without a key"))?;
        self.entry(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close().map(drop)
    }
}

impl<'a> ser::SerializeStruct for Object<Canonical<'a>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entry(Key::Field(key), value)
    }
    fn end(self) -> Result<(), Error> {
        self.close().map(drop)
    }
}

/// A tuple or struct variant: `{"variant": [...]}` or `{"variant": {...}}`.
struct Variant<T>(T);

impl<'a> ser::SerializeTupleVariant for Variant<Array<Canonical<'a>>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.element(value)
    }
    fn end(self) -> Result<(), Error> {
        let writer = self.0.close()?;
        writer.out.push(b'}');
        Ok(())
    }
}

impl<'a> ser::SerializeStructVariant for Variant<Object<Canonical<'a>>> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.0.entry(Key::Field(key), value)
    }
    fn end(self) -> Result<(), Error> {
        let writer = self.0.close()?;
        writer.out.push(b'}');
        Ok(())
    }
}

/// A map key as `serde_json::to_value` makes it a string: strings and chars as they are,
/// integers and booleans as their text, unit variants by name; anything else is an error.
struct MapKey;

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

impl ser::Serializer for MapKey {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = ser::Impossible<String, Error>;
    type SerializeTuple = ser::Impossible<String, Error>;
    type SerializeTupleStruct = ser::Impossible<String, Error>;
    type SerializeTupleVariant = ser::Impossible<String, Error>;
    type SerializeMap = ser::Impossible<String, Error>;
    type SerializeStruct = ser::Impossible<String, Error>;
    type SerializeStructVariant = ser::Impossible<String, Error>;

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::json;

    use super::CanonicalJson;
    use crate::store::digest::canonical_json;

    /// The direct writer against the tree's: the same text, the same NUL flag.
    fn same_as_tree<T: Serialize>(value: &T) -> String {
        let direct = CanonicalJson::of(value).expect("direct");
        let tree = serde_json::to_value(value).expect("tree");
        assert_eq!(direct.as_str(), canonical_json(&tree));
        assert_eq!(direct, CanonicalJson::from(&tree));
        direct.as_str().to_owned()
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Wrapped(u8),
        Pair(i32, String),
        Shaped { zeta: bool, alpha: Option<f64> },
    }

    #[derive(Serialize)]
    #[serde(tag = "type", content = "data")]
    enum Tagged {
        Empty,
        Full { zz: u64, aa: Vec<Kind> },
    }

    #[derive(Serialize)]
    #[serde(tag = "kind")]
    enum Internal {
        Dot { y: i8, x: i8 },
    }

    #[derive(Serialize)]
    struct Inner {
        b: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        a: char,
    }

    #[derive(Serialize)]
    struct Outer {
        zebra: Vec<Inner>,
        #[serde(flatten)]
        extra: BTreeMap<String, i64>,
        mid: HashMap<u16, &'static str>,
        apple: (u8, f32),
        bytes: serde_bytes_like::Bytes,
        unit: (),
        nan: f64,
        big: u64,
        neg: i64,
        text: String,
    }

    mod serde_bytes_like {
        /// Serialised with `serialize_bytes`.
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn fields_are_sorted_at_every_level_as_the_tree_sorts_them() {
        let text = same_as_tree(&Outer {
            zebra: vec![
                Inner {
                    b: "x",
                    skipped: None,
                    a: 'é',
                },
                Inner {
                    b: "quote \" and \\ and \n and \u{1f}",
                    skipped: Some(3),
                    a: '\u{0}',
                },
            ],
            extra: BTreeMap::from([("aardvark".to_owned(), 1), ("zz_top".to_owned(), -2)]),
            mid: HashMap::from([(10, "ten"), (2, "two"), (1, "one")]),
            apple: (7, 0.1),
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            unit: (),
            nan: f64::NAN,
            big: u64::MAX,
            neg: i64::MIN,
            text: "ünïcödé ✓".to_owned(),
        });
        assert!(text.starts_with(r#"{"aardvark":1,"apple":[7,0.10000000149011612],"big":"#));
        assert!(CanonicalJson::of(&json!({"a": "nul\u{0}"}))
            .unwrap()
            .has_nul());
        assert!(!CanonicalJson::of(&json!({"a": "\\u0000"}))
            .unwrap()
            .has_nul());
    }

    #[test]
    fn strings_and_keys_are_escaped_as_the_tree_escapes_them() {
        // Plain text is copied as it is; anything serde_json escapes goes through serde_json.
        let value = json!({
            "plain": "delete \u{7f}, tab \t, ✓",
            "quote \" key": "back \\ slash",
            "z\u{1}": ["\u{0}", "\u{1f}", " ", "", "/"],
        });
        same_as_tree(&value);
        let text = CanonicalJson::of(&value).expect("canonical");
        assert!(text.has_nul());
        assert!(!CanonicalJson::of(&json!({"plain": "a\u{7f}"}))
            .expect("canonical")
            .has_nul());
    }

    #[test]
    fn enums_of_every_shape_match_the_tree() {
        same_as_tree(&vec![
            Kind::Plain,
            Kind::Wrapped(4),
            Kind::Pair(-1, "p".into()),
            Kind::Shaped {
                zeta: true,
                alpha: None,
            },
            Kind::Shaped {
                zeta: false,
                alpha: Some(2.5e-8),
            },
        ]);
        same_as_tree(&Tagged::Empty);
        same_as_tree(&Tagged::Full {
            zz: 1,
            aa: vec![Kind::Plain],
        });
        same_as_tree(&Internal::Dot { y: 1, x: 2 });
        same_as_tree(&json!({"z": [{"b": 1, "a": [null, true]}], "a": {}, "m": []}));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_a_tree_does() {
        #[derive(Serialize)]
        struct Twice {
            #[serde(rename = "k")]
            first: u8,
            #[serde(flatten)]
            rest: BTreeMap<&'static str, u8>,
        }
        let text = same_as_tree(&Twice {
            first: 1,
            rest: BTreeMap::from([("a", 0), ("k", 2)]),
        });
        assert_eq!(text, r#"{"a":0,"k":2}"#);
    }

    #[test]
    fn map_keys_that_are_not_strings_or_numbers_are_refused() {
        let map = BTreeMap::from([(vec![1u8], 1u8)]);
        assert!(CanonicalJson::of(&map).is_err());
        assert!(serde_json::to_value(&map).is_err());
    }
}
