//! The operator operations of the endpoint: the permission every operator endpoint checks (a
//! management token, while ACLs are on), and restoring a snapshot archive's tables.

use super::{Csi, Store};
use stowage_proto::acl::{Acl, Token};
use stowage_proto::api::{CsiError, OperatorApi, Written};
use stowage_proto::{Command, Tables};

impl<S: Store> OperatorApi for Csi<S> {
    async fn authorize_operator(&self, t: &Token) -> Result<(), CsiError> {
        self.authorize(t, Acl::is_management).await
    }

    async fn restore_tables(&self, t: &Token, tables: Tables) -> Result<Written, CsiError> {
        let command = Command::RestoreTables {
            tables: Box::new(tables),
        };
        let (_, index) = self.write(t, command).await?;
        Ok(Written { index })
    }
}
