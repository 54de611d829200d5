# Finds a JDK >= 25 for peft4j. Sourced by ./peft4j and .ci/run (bash only).
#
#   peft4j_find_jdk   prints the JDK's home folder and returns 0, or explains on stderr what it
#                     looked at and returns 1.
#
# Order: $JAVA_HOME when it is a JDK >= 25; else the newest JDK >= 25 in the standard JVM folders;
# else the JDK that provides `javac` on PATH. A JDK (javac included) is required because the
# launcher builds peft4j from source. PEFT4J_JDK_DIRS (colon-separated glob patterns) replaces the
# standard folders, for unusual installs and for tests.

PEFT4J_MIN_JAVA=25

peft4j_default_jdk_dirs() {
    printf '%s' "/usr/lib/jvm/*:/usr/java/*:/opt/java*:/opt/jdk*:/opt/java/*:/Library/Java/JavaVirtualMachines/*/Contents/Home:$HOME/.sdkman/candidates/java/*"
}

# Prints the full version string of the JDK at $1 (e.g. 25.0.1, 26-ea), or returns 1 when $1 is not
# a JDK. The `release` file avoids starting a JVM; `java -version` is the fallback.
peft4j_jdk_version() {
    local home=$1 version=
    [[ -x $home/bin/java && -x $home/bin/javac ]] || return 1
    if [[ -r $home/release ]]; then
        version=$(sed -n 's/^JAVA_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$home/release" | head -n 1)
    fi
    if [[ -z $version ]]; then
        version=$("$home/bin/java" -version 2>&1 | sed -n 's/^[^"]* version "\([^"]*\)".*/\1/p' | head -n 1)
    fi
    [[ -n $version ]] || return 1
    printf '%s\n' "$version"
}

# Feature release of a version string: 25.0.1 -> 25, 26-ea -> 26, 1.8.0_392 -> 8.
peft4j_java_major() {
    local v=$1
    [[ $v == 1.* ]] && v=${v#1.}
    v=${v%%[!0-9]*}
    printf '%s\n' "${v:-0}"
}

# True when version $1 is newer than $2, comparing their numeric fields in order (25.0.10 > 25.0.9).
peft4j_version_newer() {
    local IFS='.+_-' i x y
    local -a a b
    read -r -a a <<< "$1"
    read -r -a b <<< "$2"
    for (( i = 0; i < ${#a[@]} || i < ${#b[@]}; i++ )); do
        x=${a[i]:-0} y=${b[i]:-0}
        [[ $x =~ ^[0-9]+$ ]] || x=0
        [[ $y =~ ^[0-9]+$ ]] || y=0
        (( 10#$x > 10#$y )) && return 0
        (( 10#$x < 10#$y )) && return 1
    done
    return 1
}

peft4j_find_jdk() {
    local min=${PEFT4J_MIN_JAVA} version major looked=()

    if [[ -n ${JAVA_HOME:-} ]]; then
        if version=$(peft4j_jdk_version "$JAVA_HOME"); then
            major=$(peft4j_java_major "$version")
            if (( major >= min )); then
                printf '%s\n' "${JAVA_HOME%/}"
                return 0
            fi
            looked+=("JAVA_HOME=$JAVA_HOME (Java $version)")
        else
            looked+=("JAVA_HOME=$JAVA_HOME (not a JDK)")
        fi
    else
        looked+=("JAVA_HOME (not set)")
    fi

    # The newest qualifying JDK in the standard folders (by full version; the first found on a tie).
    local -a dirs
    local pattern home best= best_version=
    IFS=: read -r -a dirs <<< "${PEFT4J_JDK_DIRS:-$(peft4j_default_jdk_dirs)}"
    for pattern in "${dirs[@]}"; do
        [[ -n $pattern ]] || continue
        looked+=("$pattern")
        while IFS= read -r home; do
            [[ -d $home ]] || continue
            version=$(peft4j_jdk_version "$home") || continue
            major=$(peft4j_java_major "$version")
            (( major >= min )) || continue
            if [[ -z $best ]] || peft4j_version_newer "$version" "$best_version"; then
                best=$home
                best_version=$version
            fi
        done < <(compgen -G "$pattern")
    done
    if [[ -n $best ]]; then
        printf '%s\n' "${best%/}"
        return 0
    fi

    local javac
    if javac=$(command -v javac 2>/dev/null); then
        home=$(dirname "$(dirname "$(readlink -f "$javac")")")
        if version=$(peft4j_jdk_version "$home") && (( $(peft4j_java_major "$version") >= min )); then
            printf '%s\n' "$home"
            return 0
        fi
        looked+=("javac on PATH: $javac${version:+ (Java $version)}")
    else
        looked+=("javac on PATH (none)")
    fi

    {
        echo "peft4j needs a JDK $min or newer (with javac), and found none. Looked at:"
        printf '  %s\n' "${looked[@]}"
        echo "Install JDK $min or newer (e.g. Eclipse Temurin), or point JAVA_HOME at one."
    } >&2
    return 1
}
