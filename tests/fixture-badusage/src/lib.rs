//! `badusage`: a test fixture module (not shipped) whose second command's usage line cannot
//! be read, so its load fails (`tests/usage.rs`).
#![forbid(unsafe_code)]

use rm::{Command, Ctx, Module, RStr, Result};

fn ok(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.reply_simple(c"OK");
    Ok(())
}

fn module() -> Module {
    Module::new("badusage", 1)
        .command(Command::new("badusage.good", ok).usage("BADUSAGE.GOOD key [NX | XX]"))
        .command(
            Command::new("badusage.bad", ok)
                .usage("BADUSAGE.BAD key [NX | XX")
                .keys(1, 1, 1),
        )
}

rm::module!(module);
