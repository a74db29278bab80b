/**
 * The bash completion script, written out from the command tree: plain `case` tables of
 * subcommands, options and values, so a TAB runs no node.
 */
import { type CommandNode, type Completion, flatten } from './command-tree.js';

/**
 * The script for `sockit completion bash`.
 *
 * @example
 * ```ts
 * process.stdout.write(bashScript(commandTree(program())));
 * ```
 */
export function bashScript(tree: CommandNode): string {
  const name = tree.name;
  const fn = `_${name.replace(/\W/g, '_')}`;
  const nodes = flatten(tree);
  const specs = nodes.map((node) => {
    const flags = node.options.flatMap((o) => [o.short, o.long]).filter(Boolean);
    const valued = node.options.filter((o) => o.value).flatMap((o) => [o.short, o.long]);
    return [
      `    ${pattern(node)})`,
      `      subs='${node.commands.map((c) => c.name).join(' ')}'`,
      `      opts='${flags.join(' ')}'`,
      `      valopts='${valued.filter(Boolean).join(' ')}' ;;`,
    ].join('\n');
  });
  const values = nodes.flatMap((node) => [
    ...node.options.flatMap((o) =>
      o.value && o.value.completion.kind !== 'none'
        ? [
            `    ${[o.short, o.long]
              .filter(Boolean)
              .map((flag) => pattern(node, flag))
              .join(' | ')}) ${assign(o.value.completion)} ;;`,
          ]
        : [],
    ),
    // In order, so that a variadic last argument's pattern (@*) comes after the fixed places.
    ...(node.commands.length > 0
      ? []
      : node.arguments.map(
          (a, i) =>
            `    ${a.variadic ? `${pattern(node, '@')}*` : pattern(node, `@${i}`)}) ${assign(a.completion)} ;;`,
        )),
  ]);
  return `# bash completion for ${name}: its commands, options and option values.
# Written by \`${name} completion bash\` from ${name}'s own command definitions; write it again
# after an upgrade. Install it for your user (needs the bash-completion package):
#   ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
# or load it into each shell from ~/.bashrc:
#   source <(${name} completion bash)

# ${fn}_spec PATH: sets subs, opts and valopts (options that take a value) for \`${name} PATH\`.
${fn}_spec() {
  subs= opts= valopts=
  case $1 in
${specs.join('\n')}
  esac
}

# ${fn}_value PATH WORD: sets kind (words, file, dir or none) and words for the value of the
# option WORD of \`${name} PATH\`, or for its positional argument N (from 0) when WORD is @N.
${fn}_value() {
  kind=none words=
  case "$1|$2" in
${values.join('\n')}
  esac
}

${fn}() {
  local rest=$COMP_LINE spaced i word current path= n=0 skip=0 opt= cur
  local subs opts valopts kind words
  local -a args=()
  # The words up to the cursor's as typed: bash splits "ann@host:7021" and "--option=value"
  # at the characters of COMP_WORDBREAKS; pieces with no blank between belong together.
  for ((i = 0; i <= COMP_CWORD; i++)); do
    spaced=\${rest#"\${rest%%[![:space:]]*}"}
    if ((i > 0)) && [[ \${#spaced} == "\${#rest}" ]]; then
      args[\${#args[@]} - 1]+=\${COMP_WORDS[i]}
    else
      args+=("\${COMP_WORDS[i]}")
    fi
    rest=\${spaced:\${#COMP_WORDS[i]}}
  done
  current=\${args[\${#args[@]} - 1]}
  unset 'args[\${#args[@]} - 1]'

  # The command path typed so far (subcommand names), how many arguments follow it, and
  # whether the last word is an option waiting for its value.
  for word in "\${args[@]:1}"; do
    ${fn}_spec "$path"
    if ((skip)); then
      skip=0
    elif [[ $word == -?* ]]; then
      [[ " $valopts " == *" $word "* ]] && skip=1
    elif [[ " $subs " == *" $word "* ]]; then
      path=\${path:+$path }$word n=0
    else
      n=$((n + 1))
    fi
  done
  ${fn}_spec "$path"

  # What readline replaces: the text after the last of those characters.
  cur=\${COMP_WORDS[COMP_CWORD]}
  cur=\${cur##*[$COMP_WORDBREAKS]}
  if [[ $current == -?*=* ]]; then
    opt=\${current%%=*}
  elif ((skip)); then
    opt=\${args[\${#args[@]} - 1]}
  fi
  if [[ -n $opt && " $valopts " == *" $opt "* ]]; then
    ${fn}_value "$path" "$opt"
  elif [[ $current == -* ]]; then
    kind=words words=$opts
  elif [[ -n $subs ]]; then
    kind=words words=$subs
  else
    ${fn}_value "$path" "@$n"
  fi
  case $kind in
    words) mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur") ;;
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    *) COMPREPLY=() ;;
  esac
}

complete -F ${fn} ${name}
`;
}

/** A quoted `case` pattern for PATH|WORD (the words are checked by command-tree.ts). */
function pattern(node: CommandNode, word?: string): string {
  return `'${node.path.join(' ')}${word === undefined ? '' : `|${word}`}'`;
}

function assign(completion: Completion): string {
  return completion.kind === 'words'
    ? `kind=words words='${completion.words.join(' ')}'`
    : `kind=${completion.kind}`;
}
