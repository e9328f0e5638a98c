//! `badflags`: a test fixture module (not shipped) whose second command has a flag no server
//! knows, so its load fails (`tests/command_flags.rs`).
#![forbid(unsafe_code)]

use rm::{Command, CommandFlags, Ctx, Module, RStr, Result};

fn ok(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.reply_simple(c"OK");
    Ok(())
}

fn module() -> Module {
    Module::new("badflags", 1)
        .command(Command::new("badflags.good", ok).flags(CommandFlags::READONLY))
        .command(Command::new("badflags.bad", ok).flags("write bogus-flag"))
}

rm::module!(module);
