//! The `table!` macro: one declaration per table.
//!
//! ```ignore
//! table! {
//!     /// A user account.
//!     pub struct User as USERS {
//!         name: "users",
//!         sources: ["user_accounts"],   // optional: other names in SQLite files
//!         owner: DbTarget::Store(Store::Users),
//!         version: 1,
//!         columns: {
//!             id: String => Text,
//!             email: String => Text,
//!             role: String => Text = "'member'",
//!             locked_until: Option<String> => Timestamp [aka "lockout_until"]
//!                 [pg "lockout_until"],          // optional: PostgreSQL name
//!             login_count: Option<i64> => Integer [pg as Integer], // PostgreSQL type
//!         },
//!         primary_key: (id),
//!         autoincrement: false,
//!         indexes: {
//!             unique idx_users_email (email),
//!             index idx_users_org_role (org_id, role),
//!             index idx_users_created (created_at) covering,
//!         },
//!         foreign_keys: {
//!             (org_id) -> Organization: SetNull,
//!         },
//!         // Optional, PostgreSQL only (see crate::export::pgshape):
//!         pg_name: "app_users",                         // table name
//!         pg_only: { "is_public": Boolean = "false" },  // columns our rows never hold
//!         pg_search: "search_vector" (name, email)      // tsvector + trigger,
//!             "update_user_search_vector" "user_search_vector_trigger",
//!     }
//! }
//! ```
//!
//! It generates the serde row struct (every column plus an `extra` map), the
//! `static` [`TableDef`](crate::table::TableDef) with column metadata,
//! indexes and foreign keys, and the [`Row`](crate::table::Row) impl that
//! encodes and decodes the struct. Column names used in keys and indexes are
//! checked at compile time.

/// Declares a table. See the [module docs](crate::table::macros).
#[macro_export]
macro_rules! table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $row:ident as $def:ident {
            name: $name:literal,
            $(sources: [$($source:literal),+ $(,)?],)?
            owner: $owner:expr,
            version: $version:literal,
            columns: {
                $(
                    $(#[$cmeta:meta])*
                    $col:ident : $ty:ty => $sql:ident
                    $(= $default:literal)?
                    $([aka $($alias:literal),+])?
                    $([pg $($pgcol:literal)? $(as $pgty:ident)?])?
                ),+ $(,)?
            },
            primary_key: ( $($pk:ident),+ ),
            autoincrement: $auto:literal,
            indexes: { $( $kind:ident $iname:ident ( $($icol:ident),+ ) $($covering:ident)? ),* $(,)? },
            foreign_keys: { $( ( $($fcol:ident),+ ) -> $parent:ty : $on:ident ),* $(,)? } $(,)?
            $(pg_name: $pgtable:literal $(,)?)?
            $(pg_only: { $( $pocol:literal : $poty:ident $(= $podefault:literal)? ),* $(,)? } $(,)?)?
            $(pg_search: $svcol:literal ( $($svsrc:ident),+ ) $svfn:literal $svtrig:literal $(,)?)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, ::serde::Serialize, ::serde::Deserialize)]
        $vis struct $row {
            $(
                #[doc = concat!("Column `", stringify!($col), "` (", stringify!($sql), ").")]
                $(#[$cmeta])*
                pub $col: $ty,
            )+
            /// Columns from other versions of the original that this table does not declare.
            pub extra: $crate::table::Extras,
        }

        impl $row {
            /// Column names in storage order.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($col)),+];
            /// Index names in declaration order.
            pub const INDEX_NAMES: &'static [&'static str] = &[$(stringify!($iname)),*];

            $(
                #[allow(non_upper_case_globals)]
                #[doc = concat!("Handle of the index `", stringify!($iname), "` (",
                    $(stringify!($icol), " ",)+ ").")]
                pub const $iname: $crate::table::Index<
                    $row,
                    ( $( <$row as $crate::table::handle::Field<
                        { $crate::table::column_position($row::COLUMNS, stringify!($icol)) }
                    >>::Ty, )+ ),
                > = $crate::table::Index::at(
                    $crate::table::column_position($row::INDEX_NAMES, stringify!($iname)),
                );
            )*
        }

        $(
            impl $crate::table::handle::Field<
                { $crate::table::column_position($row::COLUMNS, stringify!($col)) }
            > for $row {
                type Ty = $ty;
            }
        )+

        #[doc = concat!("Declaration of the `", $name, "` table.")]
        $vis static $def: $crate::table::TableDef = $crate::table::TableDef {
            name: $name,
            sources: &[$($($source),+)?],
            version: $version,
            owner: $owner,
            columns: &[ $( $crate::table::ColumnDef {
                name: stringify!($col),
                sql: $crate::table::SqlType::$sql,
                nullable: <$ty as $crate::table::ColumnValue>::NULLABLE,
                default: $crate::__table_opt!($($default)?),
                aliases: &[$($($alias),+)?],
                accepts: <$ty as $crate::table::ColumnValue>::accepts,
                expected: <$ty as $crate::table::ColumnValue>::EXPECTED,
                pg_name: $crate::__table_opt!($($($pgcol)?)?),
                pg_type: $crate::__table_pg_type!($($($pgty)?)?),
            } ),+ ],
            primary_key: &[ $( $crate::table::column_position($row::COLUMNS, stringify!($pk)) ),+ ],
            autoincrement: $auto,
            indexes: &[ $( $crate::table::IndexDef {
                name: stringify!($iname),
                space: $crate::table::def::index_space($row::INDEX_NAMES, stringify!($iname)),
                columns: &[ $( $crate::table::column_position($row::COLUMNS, stringify!($icol)) ),+ ],
                unique: $crate::__table_unique!($kind),
                covering: $crate::__table_covering!($($covering)?),
            } ),* ],
            foreign_keys: &[ $( $crate::table::ForeignKeyDef {
                columns: &[ $( $crate::table::column_position($row::COLUMNS, stringify!($fcol)) ),+ ],
                parent: {
                    fn parent() -> &'static $crate::table::TableDef {
                        <$parent as $crate::table::Row>::DEF
                    }
                    parent
                },
                on_delete: $crate::table::OnDelete::$on,
            } ),* ],
            pg: $crate::table::def::PgTableDecl {
                name: $crate::__table_opt!($($pgtable)?),
                only: &[ $($( $crate::table::def::PgOnlyColumn {
                    name: $pocol,
                    ty: $crate::table::def::PgType::$poty,
                    default: $crate::__table_opt!($($podefault)?),
                } ),*)? ],
                search: $crate::__table_opt_expr!($( $crate::table::def::PgSearch {
                    column: $svcol,
                    from: &[ $( $crate::table::column_position($row::COLUMNS, stringify!($svsrc)) ),+ ],
                    function: $svfn,
                    trigger: $svtrig,
                } )?),
            },
        };

        impl $crate::table::Row for $row {
            const DEF: &'static $crate::table::TableDef = &$def;

            #[allow(unused_assignments)]
            fn value(&self, i: usize) -> $crate::table::ValueRef<'_> {
                let mut n = 0usize;
                $(
                    if i == n {
                        return $crate::table::ColumnValue::to_value(&self.$col);
                    }
                    n += 1;
                )+
                $crate::table::ValueRef::Null
            }

            fn extras(&self) -> &$crate::table::Extras {
                &self.extra
            }

            #[allow(unused_assignments)]
            #[inline]
            fn decode_fast(bytes: &[u8]) -> ::std::option::Option<Self> {
                $crate::table::codec::with_columns(bytes, |cols| {
                    let mut n = 0usize;
                    Some(Self {
                        $( $col: {
                            let v = cols.next_column::<$ty>(|| $def.default_value(n))?;
                            n += 1;
                            v
                        }, )+
                        extra: cols.finish()?,
                    })
                })
            }

            #[allow(unused_assignments)]
            fn from_view(
                view: &$crate::table::RowView<'_>,
                extras: $crate::table::Extras,
            ) -> ::std::result::Result<Self, String> {
                let mut n = 0usize;
                Ok(Self {
                    $( $col: {
                        let v = $crate::table::field::<$ty>(&$def, view, n)?;
                        n += 1;
                        v
                    }, )+
                    extra: extras,
                })
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __table_opt {
    () => {
        None
    };
    ($v:literal) => {
        Some($v)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __table_opt_expr {
    () => {
        None
    };
    ($v:expr) => {
        Some($v)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __table_pg_type {
    () => {
        None
    };
    ($t:ident) => {
        Some($crate::table::def::PgType::$t)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __table_unique {
    (unique) => {
        true
    };
    (index) => {
        false
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __table_covering {
    () => {
        false
    };
    (covering) => {
        true
    };
}
