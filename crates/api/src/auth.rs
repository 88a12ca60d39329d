//! Who may do what: the roles, who a request comes from, and the check every operation passes
//! before it runs.
//!
//! | role | may |
//! |---|---|
//! | `viewer` | queries and subscriptions |
//! | `recorder` | a viewer's, and mutations |
//! | `auditor` | a viewer's, and the audit queries |
//! | `admin` | everything |
//!
//! A request presents a bearer token (see [`crate::tokens`]) or nothing. Without a token it may
//! read when the server allows anonymous reads (the default) and do nothing else. The check runs
//! once per operation, in [`AccessControl`], from the type of the operation chosen (a query, a
//! mutation, a subscription), before any resolver runs; the command path checks again
//! ([`crate::commands`]) and writes the token's name as the author of what it records. Fields
//! stricter than their operation (the audit queries) carry a [`RequireClass`] guard.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError, ServerResult, Variables};

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::tokens::TokenHolder;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Viewer,
    Recorder,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Viewer, Self::Recorder, Self::Auditor, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Recorder => "recorder",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// Whether this role may run operations of `class`.
    pub fn may(self, class: OperationClass) -> bool {
        matches!(
            (self, class),
            (Self::Admin, _)
                | (_, OperationClass::Read)
                | (Self::Recorder, OperationClass::Record)
                | (Self::Auditor, OperationClass::Audit)
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does, as access control sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationClass {
    /// Queries and subscriptions.
    Read,
    /// Mutations: recording facts.
    Record,
    /// The audit queries (the raw log, history, integrity).
    Audit,
    /// Tokens and rebuilds.
    Administer,
}

impl OperationClass {
    fn describe(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Record => "record changes",
            Self::Audit => "run audit queries",
            Self::Administer => "administer the server",
        }
    }
}

/// Who sends a request. Put into each GraphQL request's data by the HTTP layer; a request
/// without one is anonymous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Token(TokenHolder),
}

impl Caller {
    /// The name written as the author of what this caller records.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Token(holder) => &holder.name,
        }
    }
}

/// The server's access settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Whether a request without a token may read (queries and subscriptions).
    pub anonymous_reads: bool,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            anonymous_reads: true,
        }
    }
}

impl AccessPolicy {
    /// Whether `caller` may run an operation of `class`: `UNAUTHENTICATED` when a token is
    /// needed and there is none, `FORBIDDEN` when the token's role does not allow it.
    pub fn authorize(&self, caller: &Caller, class: OperationClass) -> Result<(), ApiError> {
        match caller {
            Caller::Anonymous if class == OperationClass::Read && self.anonymous_reads => Ok(()),
            Caller::Anonymous => Err(ApiError::Unauthenticated(format!(
                "a bearer token is needed to {}",
                class.describe()
            ))),
            Caller::Token(holder) if holder.role.may(class) => Ok(()),
            Caller::Token(holder) => Err(ApiError::Forbidden(format!(
                "the role {} may not {}",
                holder.role,
                class.describe()
            ))),
        }
    }
}

/// The class of the operation a document runs (`operation_name` picks one of several).
/// `None` when the name matches no operation: execution then fails with its own error.
pub fn operation_class(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationClass> {
    Some(match operation_type(document, operation_name)? {
        OperationType::Query | OperationType::Subscription => OperationClass::Read,
        OperationType::Mutation => OperationClass::Record,
    })
}

/// The type of the operation a document runs (`operation_name` picks one of several); `None`
/// when the name matches no operation.
pub fn operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    Some(match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation.node.ty,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?.node.ty,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?.node.ty
        }
        (DocumentOperations::Multiple(_), None) => return None,
    })
}

/// A field guard for fields whose class is stricter than their operation's: the audit queries
/// sit in the `Query` type (a query is classed [`OperationClass::Read`]) but only auditors and
/// admins may resolve them. Use as `#[graphql(guard = "RequireClass(OperationClass::Audit)")]`.
pub struct RequireClass(pub OperationClass);

impl async_graphql::Guard for RequireClass {
    async fn check(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<()> {
        let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
        let policy = ctx
            .data_opt::<ApiContext>()
            .map(|api| api.access)
            .unwrap_or_default();
        policy.authorize(caller, self.0).map_err(Into::into)
    }
}

/// Refuses an operation its caller may not run, before it runs.
pub struct AccessControl;

impl ExtensionFactory for AccessControl {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AccessCheck::default())
    }
}

/// One request's check: remembers the operation's name from the request until the document
/// is parsed.
#[derive(Default)]
struct AccessCheck {
    operation_name: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for AccessCheck {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut name) = self.operation_name.lock() {
            name.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let operation_name = self
            .operation_name
            .lock()
            .map_err(|_| ServerError::new("access check poisoned", None))?
            .clone();
        let Some(class) = operation_class(&document, operation_name.as_deref()) else {
            return Ok(document);
        };
        let caller = ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous);
        let policy = ctx
            .data_opt::<ApiContext>()
            .map(|api| api.access)
            .unwrap_or_default();
        match policy.authorize(caller, class) {
            Ok(()) => Ok(document),
            Err(error) => Err(error.into_server_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_exactly_its_classes() {
        use OperationClass::*;
        let allowed = |role: Role| -> Vec<OperationClass> {
            [Read, Record, Audit, Administer]
                .into_iter()
                .filter(|class| role.may(*class))
                .collect()
        };
        assert_eq!(allowed(Role::Viewer), vec![Read]);
        assert_eq!(allowed(Role::Recorder), vec![Read, Record]);
        assert_eq!(allowed(Role::Auditor), vec![Read, Audit]);
        assert_eq!(allowed(Role::Admin), vec![Read, Record, Audit, Administer]);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn anonymous_callers_read_only_when_the_policy_allows() {
        let open = AccessPolicy::default();
        let closed = AccessPolicy {
            anonymous_reads: false,
        };
        assert!(open
            .authorize(&Caller::Anonymous, OperationClass::Read)
            .is_ok());
        assert!(matches!(
            open.authorize(&Caller::Anonymous, OperationClass::Record),
            Err(ApiError::Unauthenticated(_))
        ));
        assert!(matches!(
            closed.authorize(&Caller::Anonymous, OperationClass::Read),
            Err(ApiError::Unauthenticated(_))
        ));
    }

    #[test]
    fn operations_are_classed_by_their_type() {
        let document = async_graphql::parser::parse_query(
            "query A { serverVersion } mutation B { x } subscription C { y }",
        )
        .unwrap();
        assert_eq!(
            operation_class(&document, Some("A")),
            Some(OperationClass::Read)
        );
        assert_eq!(
            operation_class(&document, Some("B")),
            Some(OperationClass::Record)
        );
        assert_eq!(
            operation_class(&document, Some("C")),
            Some(OperationClass::Read)
        );
        assert_eq!(operation_class(&document, None), None);
        assert_eq!(operation_class(&document, Some("D")), None);
    }
}
