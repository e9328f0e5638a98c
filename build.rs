//! Generates the raw bindings from `vendor/redismodule.h`.
//!
//! The header declares every API entry as a global function pointer (`RedisModule_X`) that a C
//! module fills by asking the server at load time. Rust cannot link against such tentative
//! definitions, so this script splits bindgen's output in two:
//! - `sys.rs`: the C types and typed constants (no function-pointer globals);
//! - `api_table.rs`: one `Option<fn>` field per API entry in a `Table` struct, plus the code that
//!   fills it through `RedisModule_GetApi` and answers "is X available?" by name; and a `Core`
//!   struct with a plain `fn` field for every entry the SDK calls through `core_api!(Name)`
//!   (found by scanning `src/`), so those calls need no check at all: the module refuses to
//!   load on a server missing one of them.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

use bindgen::callbacks::{IntKind, ParseCallbacks};
use quote::ToTokens;

const HEADER: &str = "vendor/redismodule.h";

/// Gives each `#define` constant the C type the API takes it as: `int` where it fits (flags,
/// modes, status codes), `long long` for the 64-bit masks.
#[derive(Debug)]
struct TypedConstants;

impl ParseCallbacks for TypedConstants {
    fn int_macro(&self, _name: &str, value: i64) -> Option<IntKind> {
        if i32::try_from(value).is_ok() {
            Some(IntKind::Int)
        } else if u32::try_from(value).is_ok() {
            Some(IntKind::UInt)
        } else {
            Some(IntKind::LongLong)
        }
    }
}

/// Entries of the module API newer than the vendored header (Redis 7.2), declared here from
/// their public signatures (Redis 7.4 and unstable's `redismodule.h`) so the table asks the
/// server for them by name like every other entry: `None` where it lacks them. An entry the
/// header gains later is taken from the header instead.
const NEWER_ENTRIES: &[(&str, &str)] = &[
    // Redis 7.4
    (
        "ClusterKeySlot",
        "unsafe extern \"C\" fn(key: *mut RedisModuleString) -> ::std::os::raw::c_uint",
    ),
    (
        "ClusterCanonicalKeyNameInSlot",
        "unsafe extern \"C\" fn(slot: ::std::os::raw::c_uint) -> *const ::std::os::raw::c_char",
    ),
    (
        "TryCalloc",
        "unsafe extern \"C\" fn(nmemb: usize, size: usize) -> *mut ::std::os::raw::c_void",
    ),
    (
        "TryRealloc",
        "unsafe extern \"C\" fn(ptr: *mut ::std::os::raw::c_void, bytes: usize) \
         -> *mut ::std::os::raw::c_void",
    ),
    // Redis 8 (unstable)
    (
        "RegisterDefragCallbacks",
        "unsafe extern \"C\" fn(ctx: *mut RedisModuleCtx, start: RedisModuleDefragFunc, \
         end: RedisModuleDefragFunc) -> ::std::os::raw::c_int",
    ),
    (
        "DefragAllocRaw",
        "unsafe extern \"C\" fn(ctx: *mut RedisModuleDefragCtx, size: usize) \
         -> *mut ::std::os::raw::c_void",
    ),
    (
        "DefragFreeRaw",
        "unsafe extern \"C\" fn(ctx: *mut RedisModuleDefragCtx, ptr: *mut ::std::os::raw::c_void)",
    ),
];

/// bindgen parses the header with libclang, loaded at run time. Without it bindgen panics deep
/// inside ("Unable to find libclang"); say what is missing and how to get it instead.
fn require_libclang() {
    if let Err(why) = clang_sys::load() {
        panic!(
            "\n\nrs-rm's build needs libclang (bindgen reads vendor/redismodule.h with it), and \
             none could be loaded:\n  {why}\n\
             Fix: `bash tools/setup.sh` (installs it), or `apt-get install libclang-dev`, or set \
             LIBCLANG_PATH to the folder holding libclang.so / libclang-<version>.so.\n\
             (libclang-cpp.so is a different library and does not do.)\n"
        );
    }
}

fn main() {
    println!("cargo:rerun-if-changed={HEADER}");
    println!("cargo:rerun-if-changed=build.rs");

    require_libclang();
    let generated = bindgen::Builder::default()
        .header(HEADER)
        .allowlist_type("RedisModule.*")
        .allowlist_var("RedisModule_.*")
        .allowlist_var("REDISMODULE_.*")
        .allowlist_type("mstime_t|ustime_t")
        .parse_callbacks(Box::new(TypedConstants))
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen could not read vendor/redismodule.h")
        .to_string();

    let file = syn::parse_file(&generated).expect("bindgen output parses as Rust");
    let mut sys_items = Vec::new();
    // (name, `Option<fn>` type, `fn` type)
    let mut entries: Vec<(String, String, String)> = Vec::new();
    for item in file.items {
        match item {
            syn::Item::ForeignMod(mut block) => {
                block.items.retain(|foreign| match foreign {
                    syn::ForeignItem::Static(entry) => {
                        let name = entry.ident.to_string();
                        if let Some(short) = name.strip_prefix("RedisModule_") {
                            if let Some(inner) = option_inner(&entry.ty) {
                                entries.push((
                                    short.to_owned(),
                                    entry.ty.to_token_stream().to_string(),
                                    inner.to_token_stream().to_string(),
                                ));
                            }
                        }
                        // Header-local statics (e.g. the command-info version) have no symbol
                        // to link against; the SDK builds its own copies.
                        false
                    }
                    _ => true,
                });
                if !block.items.is_empty() {
                    sys_items.push(syn::Item::ForeignMod(block));
                }
            }
            other => sys_items.push(other),
        }
    }
    for (name, fn_type) in NEWER_ENTRIES {
        if !entries.iter().any(|(entry, _, _)| entry == name) {
            entries.push((
                (*name).to_owned(),
                format!("Option<{fn_type}>"),
                (*fn_type).to_owned(),
            ));
        }
    }
    assert!(
        entries.len() > 300,
        "expected the full API table from the header, found {} entries",
        entries.len()
    );

    let mut sys = String::new();
    for item in sys_items {
        writeln!(sys, "{}", item.to_token_stream()).unwrap();
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    std::fs::write(out.join("sys.rs"), sys).unwrap();
    let core = core_entries(&entries);
    std::fs::write(
        out.join("api_table.rs"),
        api_table(&entries) + &core_table(&core),
    )
    .unwrap();
}

/// `T` for a type spelled `Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner @ syn::Type::FnPtr(_)) => Some(inner),
        _ => None,
    }
}

/// The entries named in `core_api!(Name)` anywhere under `src/`.
fn core_entries(entries: &[(String, String, String)]) -> Vec<(String, String)> {
    println!("cargo:rerun-if-changed=src");
    let mut used = std::collections::BTreeSet::new();
    let mut dirs = vec![PathBuf::from("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                println!("cargo:rerun-if-changed={}", path.display());
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("core_api!(").skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if piece[name.len()..].starts_with(')') && !name.is_empty() {
                        used.insert(name);
                    }
                }
            }
        }
    }
    used.into_iter()
        .map(|name| {
            let (_, _, ty) = entries
                .iter()
                .find(|(entry, _, _)| *entry == name)
                .unwrap_or_else(|| {
                    panic!("core_api!({name}): no RedisModule_{name} in the header")
                });
            (name, ty.clone())
        })
        .collect()
}

/// The `Core` struct: entries every supported server must have, as plain function pointers.
fn core_table(core: &[(String, String)]) -> String {
    let mut out = String::from(
        "\n/// The entries the SDK calls unchecked (`core_api!`): all present, or the module does\n\
         /// not load.\n\
         #[allow(non_snake_case, missing_docs, clippy::type_complexity)]\n\
         pub struct Core {\n",
    );
    for (name, ty) in core {
        writeln!(out, "    pub {name}: {ty},").unwrap();
    }
    out.push_str(
        "}\n\nimpl Core {\n    \
         /// The core entries from a loaded table, or the names of those the server lacks.\n    \
         pub(crate) fn from_table(table: &Table) -> Result<Core, Vec<&'static str>> {\n        \
         let mut missing = Vec::new();\n",
    );
    for (name, _) in core {
        writeln!(
            out,
            "        if table.{name}.is_none() {{ missing.push(\"{name}\"); }}"
        )
        .unwrap();
    }
    out.push_str("        if !missing.is_empty() {\n            return Err(missing);\n        }\n        Ok(Core {\n");
    for (name, _) in core {
        writeln!(
            out,
            "            {name}: table.{name}.expect(\"checked above\"),"
        )
        .unwrap();
    }
    out.push_str("        })\n    }\n}\n");
    out
}

/// Writes the `Table` struct, its empty value, its loader and its by-name lookup.
fn api_table(entries: &[(String, String, String)]) -> String {
    let mut out = String::new();
    out.push_str(
        "/// The server's module API: one field per `RedisModule_*` entry of the vendored header,\n\
         /// `None` where the running server does not export it.\n\
         #[allow(non_snake_case, missing_docs, clippy::type_complexity)]\n\
         pub struct Table {\n",
    );
    for (name, ty, _) in entries {
        writeln!(out, "    pub {name}: {ty},").unwrap();
    }
    out.push_str("}\n\nimpl Table {\n    /// A table with every entry missing.\n    pub const EMPTY: Table = Table {\n");
    for (name, _, _) in entries {
        writeln!(out, "        {name}: None,").unwrap();
    }
    out.push_str(
        "    };\n\n\
         /// Asks the server for every entry.\n\
         ///\n\
         /// # Safety\n\
         /// `get_api` must be the server's `RedisModule_GetApi`, called on the main thread during\n\
         /// module load, with no other reference to `self` alive.\n\
         pub(crate) unsafe fn load(&mut self, get_api: GetApiFn) {\n",
    );
    for (name, _, _) in entries {
        writeln!(
            out,
            "        // SAFETY: the server writes a pointer of the declared type, or nothing.\n        \
             unsafe {{ get_api(c\"RedisModule_{name}\".as_ptr(), (&raw mut self.{name}).cast()) }};"
        )
        .unwrap();
    }
    out.push_str(
        "    }\n\n\
         /// Whether the entry `RedisModule_<name>` (or `<name>`) is present; `None` for a name\n\
         /// the vendored header does not declare.\n\
         pub fn has(&self, name: &str) -> Option<bool> {\n        \
         let name = name.strip_prefix(\"RedisModule_\").unwrap_or(name);\n        \
         match name {\n",
    );
    for (name, _, _) in entries {
        writeln!(
            out,
            "            \"{name}\" => Some(self.{name}.is_some()),"
        )
        .unwrap();
    }
    out.push_str("            _ => None,\n        }\n    }\n}\n");
    out
}
