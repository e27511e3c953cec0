#!/usr/bin/env bash
# Every rule ID, section number, decision, scenario and §7.1 item that the repository cites
# must be defined in docs/ — so that a fresh clone explains itself. Also checks that the
# relative links inside docs/ (and from the READMEs into docs/) point at files and headings
# that exist.
#
#   docs/check-citations.sh            # exit 0: all resolved; exit 1: lists what is not
#   docs/check-citations.sh --list     # each distinct citation outside docs/, with its count
#
# Plain bash, grep, sed, awk and sort; no cargo. See docs/README.md for how citations work.
#
# What counts as a definition (in docs/*.md and docs/semantics/*.md):
#   a heading          "## §3.10 …", "### C9 — …", "### R6 — …", "### Decision 14 — …",
#                      "### Scenario 22 — …", "### Item 26 — …", "## Appendix B — …",
#                      "## Section R — …"
#   a bold list item   "- **C9.4** — …" (sub-steps of a rule)
# What counts as a citation (in *.rs, *.md, *.toml, *.sh outside target/ and .git/, docs/
# included so the docs stay consistent with themselves):
#   rule IDs           C9, AP3, W3.1, R6 …   (one or two capitals, digits, optional .digits)
#   sections           §3.10, § 5, §7.1–7.3 (both ends), "section 8", "section R"
#   decisions          decision 14, Decision 3, decisions 7 and 11
#   scenarios          scenario 22, Scenarios 74 and 75, scenarios 10–12 (both ends)
#   §7.1 items         item 26, items 3, 14
#   appendices         Appendix A
#   test names         fn p5_…, fn c9_4_… (= C9.4), fn scenario_27_49_…, fn d5_decision_7_…
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

# Tokens that look like rule IDs but are not citations:
#   T0  the test suites' base time constant (`const T0: i64 = …`)
#   V2  a serde visitor type in crates/engine/src/model/compact.rs
#   Z0  from the regular expressions `^[a-zA-Z0-9-]{1,128}$`
#   RE2 the regular-expression dialect named in docs/http-api.md §10.2
NOT_CITATIONS=" T0 V2 Z0 RE2 "

doc_files=(docs/*.md docs/semantics/*.md)

# ---- 1. what docs/ defines -------------------------------------------------------------
defined="$(
  {
    grep -hoE '^#{1,6} (§[0-9]+(\.[0-9]+)*|[A-Z]{1,2}[0-9]+(\.[0-9]+)?|Decision [0-9]+|Scenario [0-9]+|Item [0-9]+|Appendix [A-Z]|Section R)( |$)' "${doc_files[@]}" |
      sed -E 's/^#+ //; s/ $//; s/^Decision /decision /; s/^Scenario /scenario /; s/^Item /item /; s/^Appendix /appendix /; s/^Section /section /'
    grep -hoE '^[[:space:]]*[-*] \*\*[A-Z]{1,2}[0-9]+(\.[0-9]+)?\*\*' "${doc_files[@]}" |
      sed -E 's/.*\*\*(.*)\*\*/\1/'
  } | sort -u
)"

# ---- 2. what the repository cites ------------------------------------------------------
mapfile -t sources < <(
  find . \( -path ./target -o -path ./.git -o -path ./fuzz/target -o -path ./fuzz/corpus -o -name node_modules \
            -o -path ./fuzz/artifacts \) -prune -o \
         -type f \( -name '*.rs' -o -name '*.md' -o -name '*.toml' -o -name '*.sh' \) -print |
    sed 's|^\./||' | sort
)

# Every line below is "file:line:KEY".
cited="$(
  {
    # rule IDs
    grep -noE '\b[A-Z]{1,2}[0-9]+(\.[0-9]+)?\b' "${sources[@]}" || true
    # sections: "§3.10", "§ 5", and the far end of a range "§7.1–7.3"
    grep -noE '§ ?[0-9]+(\.[0-9]+)*((–|-)[0-9]+(\.[0-9]+)*)?' "${sources[@]}" |
      awk -F: '{ key = $3; sub(/^§ ?/, "", key); n = split(key, ends, /–|-/)
                 for (i = 1; i <= n; i++) print $1 ":" $2 ":§" ends[i] }' || true
    grep -noE '\b[Ss]ection ([0-9]+(\.[0-9]+)*|R)\b' "${sources[@]}" |
      sed -E 's/:[Ss]ection ([0-9.]+)$/:§\1/; s/:[Ss]ection R$/:section R/' || true
    # decisions, scenarios, items — single numbers, lists and ranges
    for word in decision scenario item; do
      grep -noiE "\b${word}s? [0-9]+(( ?, ?| and | or | & |–|-|/)[0-9]+)*" "${sources[@]}" |
        awk -F: -v word="$word" '{ nums = $3; sub(/^[A-Za-z]+ /, "", nums)
               n = split(nums, parts, /[^0-9]+/)
               for (i = 1; i <= n; i++) if (parts[i] != "") print $1 ":" $2 ":" word " " parts[i] + 0 }' || true
    done
    grep -noE '\bAppendix [A-Z]\b' "${sources[@]}" | sed -E 's/:Appendix /:appendix /' || true
    # test and function names: fn c9_4_…, fn scenario_27_49_…, fn d5_decision_7_…
    grep -noE '\bfn [a-z][a-z0-9_]*' "${sources[@]}" |
      awk -F: '{ name = $3; sub(/^fn /, "", name); n = split(name, t, "_")
                 for (i = 1; i <= n; i++) {
                   if ((t[i] == "scenario" || t[i] == "decision") && t[i + 1] ~ /^[0-9]+$/) {
                     for (j = i + 1; j <= n && t[j] ~ /^[0-9]+$/; j++) print $1 ":" $2 ":" t[i] " " t[j] + 0
                     i = j - 1
                   } else if (t[i] ~ /^(ap|[acdefgkmprstwx])[0-9]+$/ && t[i] !~ /^f(32|64)$/) {
                     key = toupper(t[i])
                     if (t[i + 1] ~ /^[0-9]+$/) { key = key "." t[i + 1]; i++ }
                     print $1 ":" $2 ":" key
                   }
                 } }' || true
  } | awk -F: -v skip="$NOT_CITATIONS" 'index(skip, " " $3 " ") == 0'
)"

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "$cited" | grep -v '^docs/' | awk -F: '{ print $3 }' | sort | uniq -c | sort -k2,2V
  exit 0
fi

missing="$(
  awk -F: 'NR == FNR { def[$0] = 1; next } !($3 in def) { print }' \
    <(printf '%s\n' "$defined") <(printf '%s\n' "$cited")
)"

# The summary counts citations outside docs/ (the code, tests, READMEs, BENCHMARKS.md).
outside="$(printf '%s\n' "$cited" | grep -v '^docs/' || true)"
distinct="$(printf '%s\n' "$outside" | awk -F: 'NF { print $3 }' | sort -u | grep -c . || true)"
total="$(printf '%s\n' "$outside" | grep -c . || true)"

status=0
if [[ -n "$missing" ]]; then
  echo "check-citations: cited but not defined in docs/ (file:line:citation):" >&2
  printf '%s\n' "$missing" | sort -t: -k3,3 -k1,1 -k2,2n >&2
  status=1
fi

# ---- 3. links into docs/ resolve -------------------------------------------------------
# GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
slugs_of() {
  grep -hE '^#{1,6} ' "$1" | sed -E 's/^#+ //' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}
link_sources=("${doc_files[@]}" README.md crates/http/README.md)
broken=""
for file in "${link_sources[@]}"; do
  [[ -f "$file" ]] || continue
  dir="$(dirname "$file")"
  while IFS= read -r link; do
    target="${link%%#*}"
    anchor=""
    [[ "$link" == *"#"* ]] && anchor="${link#*#}"
    case "$target" in http://* | https://* | mailto:*) continue ;; esac
    if [[ -z "$target" ]]; then path="$file"; else path="$dir/$target"; fi
    # Only links into docs/ (or inside it) are this script's business.
    case "$(realpath -m --relative-to=. "$path")" in docs/*) ;; *) [[ "$file" == docs/* ]] || continue ;; esac
    if [[ ! -e "$path" ]]; then
      broken+="$file: $link (no such file)"$'\n'
    elif [[ -n "$anchor" && "$path" == *.md ]] && ! slugs_of "$path" | grep -qxF "$anchor"; then
      broken+="$file: $link (no such heading)"$'\n'
    fi
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$file" | sed -E 's/^\]\(//; s/\)$//')
done
if [[ -n "$broken" ]]; then
  echo "check-citations: broken links:" >&2
  printf '%s' "$broken" >&2
  status=1
fi

if [[ $status -eq 0 ]]; then
  echo "check-citations: ok — the repository outside docs/ cites $distinct distinct IDs ($total citations), all defined in docs/; docs/ links resolve"
fi
exit $status
