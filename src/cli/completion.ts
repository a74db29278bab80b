/** `sockit completion SHELL`: the shell completion script, made from the command tree it runs in. */
import { Argument, Command } from 'commander';
import { type CommandNode, commandTree, rootOf } from './command-tree.js';
import { bashScript } from './completion-bash.js';
import { fishScript } from './completion-fish.js';
import { zshScript } from './completion-zsh.js';

const SCRIPTS = { bash: bashScript, zsh: zshScript, fish: fishScript } satisfies Record<
  string,
  (tree: CommandNode) => string
>;

export type Shell = keyof typeof SCRIPTS;

/**
 * The completion script for `shell` of the whole tree under `root`.
 *
 * @example
 * ```ts
 * writeFileSync('_sockit', completionScript('zsh', program()));
 * ```
 */
export function completionScript(shell: Shell, root: Command): string {
  return SCRIPTS[shell](commandTree(root));
}

/**
 * The `completion` command. Its script covers the tree it is added to, found through
 * `command.parent` when it runs, so it completes whatever commands and options that tree has;
 * or the tree `wholeTree` gives, where the running tree holds only the command that runs
 * (the `sockit` entry point loads only that one).
 *
 * @example
 * ```ts
 * new Command('sockit').addCommand(echoCommand()).addCommand(completionCommand());
 * // sockit completion bash > ~/.local/share/bash-completion/completions/sockit
 * ```
 */
export function completionCommand(wholeTree?: () => Promise<Command>): Command {
  return new Command('completion')
    .description('print the completion script for bash, zsh or fish (commands, options, choices)')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(Object.keys(SCRIPTS)))
    .addHelpText(
      'after',
      `
Install it once for your user (it completes this version's commands: write it again after
an upgrade):
  bash  mkdir -p ~/.local/share/bash-completion/completions
        sockit completion bash > ~/.local/share/bash-completion/completions/sockit
        (read by the bash-completion package; without it, put in ~/.bashrc:
        source <(sockit completion bash))
  zsh   mkdir -p ~/.zfunc && sockit completion zsh > ~/.zfunc/_sockit
        and in ~/.zshrc, before compinit: fpath=(~/.zfunc $fpath)
        (or in ~/.zshrc, after compinit: source <(sockit completion zsh))
  fish  sockit completion fish > ~/.config/fish/completions/sockit.fish
The scripts are plain tables: a TAB does not start sockit.

Examples:
  sockit completion bash > ~/.local/share/bash-completion/completions/sockit
  source <(sockit completion bash)
  sockit completion fish > ~/.config/fish/completions/sockit.fish`,
    )
    .action(async (shell: Shell, _options: unknown, command: Command) => {
      const root = wholeTree ? await wholeTree() : rootOf(command);
      process.stdout.write(completionScript(shell, root));
    });
}
