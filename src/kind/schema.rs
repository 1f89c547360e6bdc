//! JSON Schemas of kinds' parameters and outputs, from their `utoipa::ToSchema` types, with
//! every reference to another schema inlined: each schema stands alone, for `GET /kinds`, the
//! dashboard's form and the OpenAPI document alike.

use std::collections::HashMap;

use serde_json::Value;
use utoipa::ToSchema;

/// How deep references are followed (a type that contains itself stops there).
const MAX_DEPTH: usize = 32;

/// The JSON Schema of `T`, references inlined.
pub fn of<T: ToSchema>() -> Value {
    let mut named = Vec::new();
    T::schemas(&mut named);
    let named: HashMap<String, Value> = named
        .into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect();
    let root = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    inline(root, &named, 0)
}

fn inline(value: Value, named: &HashMap<String, Value>, depth: usize) -> Value {
    match value {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| named.get(name));
            match target {
                Some(schema) if depth < MAX_DEPTH => inline(schema.clone(), named, depth + 1),
                _ => Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, inline(v, named, depth)))
                        .collect(),
                ),
            }
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| inline(v, named, depth)).collect())
        }
        other => other,
    }
}

/// Sets what the JSON pointer `at` names in `schema` (e.g. `/properties/end/maximum`), if
/// its parent exists: for a kind's [`super::Kind::params_schema`] to carry the bounds it was
/// configured with.
pub fn set(schema: &mut Value, at: &str, value: impl Into<Value>) {
    let Some((parent, key)) = at.rsplit_once('/') else {
        return;
    };
    if let Some(Value::Object(parent)) = schema.pointer_mut(parent) {
        parent.insert(key.replace("~1", "/").replace("~0", "~"), value.into());
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::json;

    use super::*;

    #[derive(Serialize, ToSchema)]
    struct Inner {
        /// How many.
        n: u64,
    }

    #[derive(Serialize, ToSchema)]
    struct Outer {
        items: Vec<Inner>,
        one: Option<Inner>,
    }

    #[test]
    fn references_are_inlined_and_bounds_set() {
        let mut schema = of::<Outer>();
        let text = schema.to_string();
        assert!(!text.contains("$ref"), "{text}");
        assert_eq!(
            schema.pointer("/properties/items/items/properties/n/description"),
            Some(&json!("How many."))
        );
        set(&mut schema, "/properties/items/maxItems", 7);
        set(&mut schema, "/properties/missing/maximum", 1);
        assert_eq!(
            schema.pointer("/properties/items/maxItems"),
            Some(&json!(7))
        );
        assert_eq!(schema.pointer("/properties/missing"), None);
    }
}
