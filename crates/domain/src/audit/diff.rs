//! The field-level difference between two states of an aggregate, as JSON: what one event
//! changed. Pure (no I/O): the audit history computes it between consecutive folded states.
//!
//! Paths name a leaf: object keys joined with `.`, array elements by index (`actors[0].role`,
//! `facts.fatalities.best`). Objects are compared key by key and arrays element by element
//! (by index: the aggregates keep their lists in the order things were recorded, so an
//! addition shows as new elements at the end). A value that is `null`, an empty object or an
//! empty array counts as absent: a field that appears is `ADDED` leaf by leaf, one that goes
//! is `REMOVED`, a leaf whose value differs is `CHANGED`. A leaf whose kind of value changes (a
//! string that becomes an object) is one change with the whole values before and after.

use serde_json::{Map, Value};

/// How a leaf changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Absent before, present after.
    Added,
    /// Present before, absent after.
    Removed,
    /// Present before and after, with another value.
    Changed,
}

/// One changed leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where: `facts.fatalities.best`, `actors[1].attribution`.
    pub path: String,
    /// The value before (`None`: absent).
    pub before: Option<Value>,
    /// The value after (`None`: absent).
    pub after: Option<Value>,
}

impl Change {
    /// Whether the leaf was added, removed or changed.
    pub fn kind(&self) -> ChangeKind {
        match (&self.before, &self.after) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            _ => ChangeKind::Changed,
        }
    }
}

/// Every leaf that differs between `before` and `after`, in path order (keys sorted, elements
/// by index).
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    walk(
        String::new(),
        present(Some(before)),
        present(Some(after)),
        &mut changes,
    );
    changes
}

/// `value`, unless it counts as absent (`null`, `{}`, `[]`).
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    })
}

fn walk(path: String, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<Change>) {
    match (before, after) {
        (None, None) => {}
        (Some(Value::Object(b)), Some(Value::Object(a))) => objects(&path, Some(b), Some(a), out),
        (Some(Value::Object(b)), None) => objects(&path, Some(b), None, out),
        (None, Some(Value::Object(a))) => objects(&path, None, Some(a), out),
        (Some(Value::Array(b)), Some(Value::Array(a))) => arrays(&path, b, a, out),
        (Some(Value::Array(b)), None) => arrays(&path, b, &[], out),
        (None, Some(Value::Array(a))) => arrays(&path, &[], a, out),
        (b, a) if b == a => {}
        (b, a) => out.push(Change {
            path,
            before: b.cloned(),
            after: a.cloned(),
        }),
    }
}

fn objects(
    path: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
    out: &mut Vec<Change>,
) {
    let mut keys: Vec<&String> = before
        .into_iter()
        .chain(after)
        .flat_map(|map| map.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        walk(
            child,
            present(before.and_then(|m| m.get(key))),
            present(after.and_then(|m| m.get(key))),
            out,
        );
    }
}

fn arrays(path: &str, before: &[Value], after: &[Value], out: &mut Vec<Change>) {
    for i in 0..before.len().max(after.len()) {
        walk(
            format!("{path}[{i}]"),
            present(before.get(i)),
            present(after.get(i)),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(changes: &[Change]) -> Vec<(&str, ChangeKind)> {
        changes
            .iter()
            .map(|c| (c.path.as_str(), c.kind()))
            .collect()
    }

    #[test]
    fn equal_states_have_no_changes() {
        let state = json!({ "a": 1, "b": { "c": [1, 2, { "d": "x" }] } });
        assert!(diff(&state, &state.clone()).is_empty());
    }

    #[test]
    fn a_changed_leaf_is_named_by_its_path() {
        let before = json!({ "casualties": { "fatalities": { "best": 3, "low": 2 } } });
        let after = json!({ "casualties": { "fatalities": { "best": 5, "low": 2 } } });
        assert_eq!(
            diff(&before, &after),
            vec![Change {
                path: "casualties.fatalities.best".into(),
                before: Some(json!(3)),
                after: Some(json!(5)),
            }]
        );
    }

    #[test]
    fn fields_that_appear_or_go_are_listed_leaf_by_leaf() {
        let before = json!({ "facts": null, "injuries": { "best": 1 } });
        let after = json!({ "facts": { "time": { "start": "2024-01-28" }, "means": ["drone"] } });
        let changes = diff(&before, &after);
        assert_eq!(
            paths(&changes),
            vec![
                ("facts.means[0]", ChangeKind::Added),
                ("facts.time.start", ChangeKind::Added),
                ("injuries.best", ChangeKind::Removed),
            ]
        );
        assert_eq!(changes[0].after, Some(json!("drone")));
        assert_eq!(changes[2].before, Some(json!(1)));
        assert_eq!(changes[2].after, None);
    }

    #[test]
    fn arrays_compare_element_by_element() {
        let before = json!({ "actors": [{ "id": "a", "role": "claimant" }] });
        let after = json!({ "actors": [
            { "id": "a", "role": "suspected" },
            { "id": "b", "role": "target" }
        ] });
        assert_eq!(
            paths(&diff(&before, &after)),
            vec![
                ("actors[0].role", ChangeKind::Changed),
                ("actors[1].id", ChangeKind::Added),
                ("actors[1].role", ChangeKind::Added),
            ]
        );
    }

    #[test]
    fn null_and_empty_count_as_absent() {
        let before = json!({ "a": null, "b": [], "c": {} });
        let after = json!({ "b": null });
        assert!(diff(&before, &after).is_empty());
    }

    #[test]
    fn a_leaf_that_changes_kind_is_one_change_with_whole_values() {
        let before = json!({ "status": "active" });
        let after = json!({ "status": { "retracted": "duplicate" } });
        assert_eq!(
            diff(&before, &after),
            vec![Change {
                path: "status".into(),
                before: Some(json!("active")),
                after: Some(json!({ "retracted": "duplicate" })),
            }]
        );
    }
}
