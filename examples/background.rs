//! Slow work off the server's main thread: the client waits, everyone else is served.
//!
//! ```text
//! $ cargo build --release --example background
//! $ redis-server --loadmodule target/release/examples/libbackground.so
//! 127.0.0.1:6379> BG.SUM 1 2 3
//! (integer) 6            (after background.delay-ms, default 100 ms)
//! 127.0.0.1:6379> CONFIG SET background.delay-ms 0
//! OK
//! ```
#![forbid(unsafe_code)]

use std::time::Duration;

use rm::{BlockOptions, Command, Ctx, Error, Module, NumericConfig, RStr, Result};

/// `background.delay-ms`: how long the pretend-slow work takes.
static DELAY_MS: NumericConfig = NumericConfig::new("delay-ms", 100, 0, 60_000);

/// `BG.SUM n...`: the sum of the integers, computed on a thread after the configured delay.
fn sum(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let numbers = args[1..]
        .iter()
        .map(|a| a.parse_i64())
        .collect::<Result<Vec<i64>>>()?;
    let delay = Duration::from_millis(DELAY_MS.get().max(0) as u64);
    let blocked = ctx.block_client(
        BlockOptions::new(reply).timeout(Duration::from_secs(10), |_ctx: &Ctx| {
            Err(Error::err("the sum took too long"))
        }),
    )?;
    std::thread::spawn(move || {
        std::thread::sleep(delay); // a network call, a disk read, …
        let total = numbers.iter().try_fold(0i64, |acc, n| acc.checked_add(*n));
        blocked.unblock(total);
    });
    Ok(()) // the reply comes from `reply`, on the main thread
}

fn reply(ctx: &Ctx, total: Option<i64>) -> Result<()> {
    let total = total.ok_or_else(|| Error::err("the sum overflows"))?;
    ctx.reply_integer(total);
    Ok(())
}

fn module() -> Module {
    Module::new("background", 1)
        .command(
            Command::new("bg.sum", sum)
                .usage("BG.SUM number [number ...]")
                .summary("Adds integers on a background thread")
                .flags("readonly")
                .arity(-2),
        )
        .on_load(|ctx, _args| ctx.register_config(&DELAY_MS))
}

rm::module!(module);
