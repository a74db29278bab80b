/**
 * The zsh completion script, written out from the command tree: one `_arguments` function per
 * command, as zsh's own completions are written, so a TAB runs no node.
 */
import type { CommandNode, Completion, OptionNode } from './command-tree.js';
import { flatten } from './command-tree.js';

/**
 * The script for `sockit completion zsh`: a `#compdef` file for a folder on `fpath`, which
 * also registers itself with `compdef` when sourced.
 *
 * @example
 * ```ts
 * process.stdout.write(zshScript(commandTree(program())));
 * ```
 */
export function zshScript(tree: CommandNode): string {
  const name = tree.name;
  const functions = flatten(tree).map((node) => commandFunction(node, name));
  return `#compdef ${name}
# zsh completion for ${name}: its commands, options and option values.
# Written by \`${name} completion zsh\` from ${name}'s own command definitions; write it again
# after an upgrade. Install it as _${name} in a folder on fpath, before compinit in ~/.zshrc:
#   mkdir -p ~/.zfunc && ${name} completion zsh > ~/.zfunc/_${name}
#   fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit
# or load it into each shell from ~/.zshrc, after compinit:
#   source <(${name} completion zsh)

${functions.join('\n\n')}

if [[ $funcstack[1] == ${functionName(tree, name)} ]]; then
  ${functionName(tree, name)} "$@"
else
  compdef ${functionName(tree, name)} ${name}
fi
`;
}

function functionName(node: CommandNode, name: string): string {
  return `_${[name, ...node.path].join('_').replace(/\W/g, '_')}`;
}

function commandFunction(node: CommandNode, name: string): string {
  const fn = functionName(node, name);
  const specs = node.options.flatMap(optionSpecs);
  if (node.commands.length === 0) {
    // <arg>, [arg] and arg... are ':', '::' and '*:' specs.
    const args = node.arguments.map((a) => {
      const place = a.variadic ? '*:' : a.required ? ':' : '::';
      return quote(`${place}${field(a.name)}:${action(a.completion)}`);
    });
    return `${fn}() {
  _arguments -s -S \\
${[...specs, ...args].map((s) => `    ${s}`).join(' \\\n')}
}`;
  }
  const commands = node.commands.map((c) => `        ${quote(`${c.name}:${c.description}`)}`);
  const dispatch = node.commands.map((c) => `        ${quote(c.name)}) ${functionName(c, name)} ;;`);
  return `${fn}() {
  local curcontext=$curcontext state state_descr line
  typeset -A opt_args
  _arguments -s -S -C \\
${[...specs, quote(':command:->command'), quote('*:: :->args')].map((s) => `    ${s}`).join(' \\\n')} && return 0
  case $state in
    command)
      local -a commands=(
${commands.join('\n')}
      )
      _describe -t commands ${quote(`${[name, ...node.path].join(' ')} command`)} commands ;;
    args)
      curcontext=\${curcontext%:*:*}:${[name, ...node.path].join('-')}-$words[1]:
      case $words[1] in
${dispatch.join('\n')}
      esac ;;
  esac
}`;
}

/** `_arguments` specs of one option: a short and a long form exclude each other. */
function optionSpecs(option: OptionNode): string[] {
  const flags = [option.short, option.long].filter((f): f is string => f !== undefined);
  const exclusive = flags.length > 1 ? `(${flags.join(' ')})` : '';
  const text = `[${field(option.description)}]`;
  return flags.map((flag) => {
    if (!option.value) return quote(`${exclusive}${flag}${text}`);
    // --opt=value or --opt value; -o value or -ovalue.
    const joined = flag.startsWith('--') ? '=' : '+';
    return quote(
      `${exclusive}${flag}${joined}${text}:${field(option.value.name)}:${action(option.value.completion)}`,
    );
  });
}

function action(completion: Completion): string {
  switch (completion.kind) {
    case 'words':
      return `(${completion.words.join(' ')})`;
    case 'file':
      return '_files';
    case 'dir':
      return '_files -/';
    case 'none':
      // A space: nothing to complete, the value's name is shown.
      return ' ';
  }
}

/** A description or a value's name inside a spec, where [ ] : end fields. */
function field(text: string): string {
  return text.replace(/[\\[\]:]/g, '\\$&');
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
