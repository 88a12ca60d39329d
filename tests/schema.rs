//! The GraphQL schema is a contract: `schema.graphql` must be what the code generates.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let checked_in = std::fs::read_to_string(path).expect("schema.graphql exists");
    let generated = sitrep_api::schema::sdl();
    assert!(
        checked_in == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` and review the diff"
    );
}

/// Every type, field, input field, argument and enum value a client sees is described, so that GraphiQL
/// and generated clients document the contract.
#[tokio::test]
async fn every_type_and_field_has_a_description() {
    let schema = sitrep_api::schema::without_data();
    let response = schema
        .execute(
            "{ __schema { types { name kind description
                 fields { name description args { name description } }
                 inputFields { name description }
                 enumValues(includeDeprecated: true) { name description } } } }",
        )
        .await;
    let data = response.data.into_json().expect("JSON");
    let built_in = ["String", "Int", "Float", "Boolean", "ID"];
    let mut missing = Vec::new();
    let described =
        |value: &serde_json::Value| value.as_str().is_some_and(|d| !d.trim().is_empty());
    for ty in data["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().expect("name");
        if name.starts_with("__") || built_in.contains(&name) {
            continue;
        }
        if !described(&ty["description"]) {
            missing.push(name.to_owned());
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().expect("name");
            if !described(&field["description"]) {
                missing.push(format!("{name}.{field_name}"));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if !described(&arg["description"]) {
                    missing.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
        }
        for field in ty["inputFields"].as_array().into_iter().flatten() {
            if !described(&field["description"]) {
                missing.push(format!("{name}.{}", field["name"].as_str().expect("name")));
            }
        }
        for value in ty["enumValues"].as_array().into_iter().flatten() {
            if !described(&value["description"]) {
                missing.push(format!("{name}::{}", value["name"].as_str().expect("name")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} without a description:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
