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
