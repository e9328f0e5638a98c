//! The smallest module: one command.
//!
//! ```text
//! $ cargo build --release --example hello
//! $ redis-server --loadmodule target/release/examples/libhello.so
//! 127.0.0.1:6379> HELLO.GREET world
//! "Hello, world!"
//! 127.0.0.1:6379> HELLO.GREET
//! (error) ERR wrong number of arguments for 'hello.greet' command
//! ```
#![forbid(unsafe_code)]

use rm::{Command, Ctx, Error, Module, RStr, Result};

/// `HELLO.GREET name`: replies `Hello, <name>!`.
fn greet(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name] = args else {
        return Err(Error::WrongArity);
    };
    let mut greeting = b"Hello, ".to_vec();
    greeting.extend_from_slice(name.as_bytes());
    greeting.push(b'!');
    ctx.reply_bulk(&greeting);
    Ok(())
}

fn module() -> Module {
    Module::new("hello", 1).command(
        Command::new("hello.greet", greet)
            .usage("HELLO.GREET name")
            .summary("Greets someone")
            .flags("readonly fast")
            .arity(2),
    )
}

rm::module!(module);
