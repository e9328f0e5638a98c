//! The module's configs: `json.path-budget`, `json.path-max-bytes`, `json.path-dialect`.

use jsondoc::path::Dialect;
use rm::{Ctx, EnumConfig, NumericConfig, RStr, Result};

/// `json.path-budget`: the JSON nodes one path evaluation may visit and return (each result
/// counts its whole value); `ERR the path would visit or return more than …` past it.
static PATH_BUDGET: NumericConfig = NumericConfig::new(
    "path-budget",
    jsondoc::path::budget::DEFAULT_NODES as i64,
    1_000,
    i64::MAX,
)
.apply(apply_limits);

/// `json.path-max-bytes`: the bytes the results of one path evaluation may hold.
static PATH_MAX_BYTES: NumericConfig = NumericConfig::new(
    "path-max-bytes",
    jsondoc::path::budget::DEFAULT_BYTES as i64,
    1_024,
    i64::MAX,
)
.memory()
.apply(apply_limits);

fn apply_limits(_ctx: &Ctx) -> Result<()> {
    jsondoc::path::budget::set_limits(
        PATH_BUDGET.get().unsigned_abs(),
        PATH_MAX_BYTES.get().unsigned_abs(),
    );
    Ok(())
}

/// `json.path-dialect redisjson|rfc9535`: how `$` paths are read. `redisjson` (the default: a
/// user replacing RedisJSON keeps every path their application sends) also accepts RedisJSON's
/// spellings (`$.[1]`, `$.2.3`, `$.a-b`, `$.$a`, `@.["k"]`); `rfc9535` is the standard alone.
static PATH_DIALECT: EnumConfig =
    EnumConfig::new("path-dialect", 0, &[("redisjson", 0), ("rfc9535", 1)]);

/// The dialect `json.path-dialect` selects.
pub(crate) fn dialect() -> Dialect {
    if PATH_DIALECT.get() == 1 {
        Dialect::Rfc9535
    } else {
        Dialect::RedisJson
    }
}

pub(crate) fn register_limits(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.register_config(&PATH_BUDGET)?;
    ctx.register_config(&PATH_MAX_BYTES)?;
    ctx.register_config(&PATH_DIALECT)?;
    apply_limits(ctx)
}
