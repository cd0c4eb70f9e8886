#!/usr/bin/env node
// The `affstream` CLI. The project is TypeScript run through tsx: register its loader, then hand over.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
// Exit explicitly: a command that is done must not linger on a forgotten handle. Standard output
// and error are synchronous for files and pipes on Linux, so nothing written is lost.
process.exit(await main(process.argv.slice(2)));
