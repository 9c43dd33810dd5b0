//! Every validation rule, as a table of small TOML snippets and the diagnostics they give
//! (`path:line:col: start of the message`).

use std::time::Duration;

use testrium_config::{InExcept, Launch, LogMode};

use crate::support::{lines, load};

const CONFIG: &str = "[\"Configs\"]\nunits = [\"a\", \"b\"]\n";
const A: &str = "[\"a\"]\ninit = 0\nevents = [\"a-ready\", \"a-sent\"]\n";
const B: &str = "[\"b\"]\ninit = 1\nunit_dependencies = [\"a\"]\nevents = [\"b-got\"]\n";

struct Case {
    name: &'static str,
    config: &'static str,
    a: &'static str,
    b: &'static str,
    /// Each: `path:line:col: message start`; empty means the group is valid.
    expect: &'static [&'static str],
}

const fn case(
    name: &'static str,
    config: &'static str,
    a: &'static str,
    b: &'static str,
    expect: &'static [&'static str],
) -> Case {
    Case {
        name,
        config,
        a,
        b,
        expect,
    }
}

const CASES: &[Case] = &[
    case("valid", CONFIG, A, B, &[]),
    // Syntax.
    case(
        "config syntax error",
        "[\"Configs\"\nunits = [\"a\", \"b\"]\n",
        A,
        B,
        &["test_g/config.toml:1:11: invalid TOML"],
    ),
    case(
        "unit syntax error",
        CONFIG,
        "[\"a\"]\ninit = = 0\n",
        B,
        &["test_g/units/a.toml:2:8: invalid TOML"],
    ),
    // The config file's shape.
    case(
        "no Configs table",
        "units = [\"a\", \"b\"]\n",
        A,
        B,
        &[
            "test_g/config.toml:1:1: unknown key `units` in config.toml",
            "test_g/config.toml:0:0: config.toml has no `[\"Configs\"]` table",
        ],
    ),
    case(
        "Configs is not a table",
        "Configs = 1\n",
        A,
        B,
        &["test_g/config.toml:1:11: `Configs` must be a table"],
    ),
    case(
        "unknown top-level key",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[Circuit]\nname = \"x\"\n",
        A,
        B,
        &["test_g/config.toml:3:2: unknown key `Circuit` in config.toml"],
    ),
    // Configs values.
    case(
        "unknown Configs key",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimout = 5\n",
        A,
        B,
        &["test_g/config.toml:3:1: unknown key `timout` in `[\"Configs\"]`"],
    ),
    case(
        "units not a list",
        "[\"Configs\"]\nunits = \"a\"\n",
        A,
        B,
        &["test_g/config.toml:2:9: `units` must be a list of strings, found a string \"a\""],
    ),
    case(
        "units with a number, a blank and a duplicate",
        "[\"Configs\"]\nunits = [\"a\", \"b\", 3]\n",
        A,
        B,
        &[
            "test_g/config.toml:2:20: `units` must be a list of strings, but it contains an integer 3",
        ],
    ),
    case(
        "units blank and duplicate",
        "[\"Configs\"]\nunits = [\"a\", \"b\", \"\", \"a\"]\n",
        A,
        B,
        &[
            "test_g/config.toml:2:20: `units` contains a blank name",
            "test_g/config.toml:2:24: `units` lists `a` twice",
        ],
    ),
    case(
        "enabled not a boolean",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nenabled = \"yes\"\n",
        A,
        B,
        &["test_g/config.toml:3:11: `enabled` must be a boolean, found a string \"yes\""],
    ),
    case(
        "timeout zero, negative, text",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimeout = 0\n",
        A,
        B,
        &["test_g/config.toml:3:11: `timeout` cannot be 0: it must be greater than 0"],
    ),
    case(
        "timeout negative",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimeout = -2.5\n",
        A,
        B,
        &["test_g/config.toml:3:11: `timeout` cannot be -2.5"],
    ),
    case(
        "timeout nan",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimeout = nan\n",
        A,
        B,
        &["test_g/config.toml:3:11: `timeout` cannot be nan: it is not a finite number"],
    ),
    case(
        "timeout huge",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimeout = 1e300\n",
        A,
        B,
        &["test_g/config.toml:3:11: `timeout` cannot be 1e300: it is too large"],
    ),
    case(
        "timeout text",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntimeout = \"30\"\n",
        A,
        B,
        &["test_g/config.toml:3:11: `timeout` must be a number of seconds, found a string \"30\""],
    ),
    case(
        "repeat out of range",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nrepeat = 11\n",
        A,
        B,
        &["test_g/config.toml:3:10: `repeat` must be between 0 and 10, found 11"],
    ),
    case(
        "repeat negative",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nrepeat = -1\n",
        A,
        B,
        &["test_g/config.toml:3:10: `repeat` must be between 0 and 10, found -1"],
    ),
    case(
        "repeat float",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nrepeat = 1.5\n",
        A,
        B,
        &["test_g/config.toml:3:10: `repeat` must be an integer, found a float 1.5"],
    ),
    case(
        "debug-modes invalid",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ndebug-modes = [\"DEBUG\", \"WARN\"]\n",
        A,
        B,
        &["test_g/config.toml:3:25: `debug-modes` contains an invalid mode `WARN`"],
    ),
    case(
        "debug-modes cannot be All",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ndebug-modes = \"All\"\n",
        A,
        B,
        &["test_g/config.toml:3:15: `debug-modes` must be a list of strings"],
    ),
    case(
        "test-modes invalid single",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ntest-modes = \"all\"\n",
        A,
        B,
        &["test_g/config.toml:3:14: `test-modes` contains an invalid mode `all`"],
    ),
    case(
        "boolean settings",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nuse-ai = 0\nsave-scores = \"true\"\n",
        A,
        B,
        &[
            "test_g/config.toml:3:10: `use-ai` must be a boolean, found an integer 0",
            "test_g/config.toml:4:15: `save-scores` must be a boolean",
        ],
    ),
    case(
        "alias contradicts its new name",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\ngen-metrics = true\nanalitics = false\n",
        A,
        B,
        &["test_g/config.toml:4:1: `analitics` = false contradicts `gen-metrics` = true"],
    ),
    case(
        "alias agreeing with its new name",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nsave-analitics = false\nsave-metrics = false\n",
        A,
        B,
        &[],
    ),
    case(
        "empty setup command",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nsetup = []\n",
        A,
        B,
        &["test_g/config.toml:3:9: `setup` must name a program: the list is empty"],
    ),
    // Units list against unit files; names.
    case(
        "missing unit file",
        "[\"Configs\"]\nunits = [\"a\", \"b\", \"c\"]\n",
        A,
        B,
        &["test_g/config.toml:2:20: unit `c` is listed in `units` but units/c.toml does not exist"],
    ),
    case(
        "extra unit file",
        "[\"Configs\"]\nunits = [\"a\"]\n",
        A,
        "[\"b\"]\ninit = 1\n",
        // A warning, not an error: the original ignored such files.
        &["warning: test_g/units/b.toml:1:2: units/b.toml is not listed in `units` of config.toml"],
    ),
    // Unknown keys with no close match: ignored as the original ignored them, with a warning
    // (compat: groups annotated with their own keys must run unchanged).
    case(
        "unknown Configs key without a close match",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\nnote = \"nightly only\"\n",
        A,
        B,
        &["warning: test_g/config.toml:3:1: unknown key `note` in `[\"Configs\"]` is ignored"],
    ),
    case(
        "unknown unit key without a close match",
        CONFIG,
        "[\"a\"]\ninit = 0\ndescription = \"the server\"\n",
        B,
        &["warning: test_g/units/a.toml:3:1: unknown key `description` in unit `a` is ignored"],
    ),
    case(
        "unknown top-level table in config.toml",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[Extra]\nowner = \"team\"\n",
        A,
        B,
        &["warning: test_g/config.toml:3:2: unknown key `Extra` in config.toml is ignored"],
    ),
    case(
        "unsafe unit names",
        "[\"Configs\"]\nunits = [\"a\", \"b\", \"../etc\", \"x/y\", \"c\\u001b[2J\"]\n",
        A,
        B,
        &[
            "test_g/config.toml:2:20: unit name `../etc` cannot be used: it contains a path separator",
            "test_g/config.toml:2:30: unit name `x/y` cannot be used: it contains a path separator",
            "test_g/config.toml:2:37: unit name `c\u{1b}[2J` cannot be used: it contains a control character",
        ],
    ),
    // Unit file shape.
    case(
        "unit table named wrong",
        CONFIG,
        "[\"aa\"]\ninit = 0\n",
        B,
        &[
            "test_g/units/a.toml:1:2: units/a.toml has a `[\"aa\"]` table, but the unit is named `a`",
        ],
    ),
    case(
        "unit keys outside the table",
        CONFIG,
        "init = 0\n[\"a\"]\nevents = []\n",
        B,
        &[
            "test_g/units/a.toml:1:1: key `init` is outside the `[\"a\"]` table",
            "test_g/units/a.toml:2:2: unit `a` has no `init`",
        ],
    ),
    case(
        "unit is not a table",
        CONFIG,
        "a = 3\n",
        B,
        &["test_g/units/a.toml:1:5: `a` must be a table, found an integer 3"],
    ),
    case(
        "empty unit file",
        CONFIG,
        "",
        B,
        &["test_g/units/a.toml:0:0: units/a.toml has no `[\"a\"]` table"],
    ),
    // Unit values.
    case(
        "unknown unit key with suggestion",
        CONFIG,
        "[\"a\"]\ninit = 0\nready_evnt = \"x\"\n",
        B,
        &["test_g/units/a.toml:3:1: unknown key `ready_evnt` in unit `a`"],
    ),
    case(
        "init missing, negative, text, float, too big",
        CONFIG,
        "[\"a\"]\ninit = -1\n",
        "[\"b\"]\ninit = 4294967296\n",
        &[
            "test_g/units/a.toml:2:8: `init` must be between 0 and 4294967295, found -1",
            "test_g/units/b.toml:2:8: `init` must be between 0 and 4294967295, found 4294967296",
        ],
    ),
    case(
        "init text",
        CONFIG,
        "[\"a\"]\ninit = \"0\"\n",
        "[\"b\"]\ninit = 1.0\n",
        &[
            "test_g/units/a.toml:2:8: `init` must be an integer, found a string \"0\"",
            "test_g/units/b.toml:2:8: `init` must be an integer, found a float 1.0",
        ],
    ),
    case(
        "duplicate init",
        CONFIG,
        A,
        "[\"b\"]\ninit = 0\n",
        &["test_g/units/b.toml:2:8: duplicate init 0: units `a` and `b`"],
    ),
    case(
        "unit booleans",
        CONFIG,
        "[\"a\"]\ninit = 0\nenabled = 1\nuse_setup = \"no\"\n",
        B,
        &[
            "test_g/units/a.toml:3:11: `enabled` must be a boolean",
            "test_g/units/a.toml:4:13: `use_setup` must be a boolean",
        ],
    ),
    case(
        "python-fork must be a boolean",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\npython-fork = \"no\"\n",
        "[\"a\"]\ninit = 0\npython-fork = 0\n",
        B,
        &[
            "test_g/config.toml:3:15: `python-fork` must be a boolean",
            "test_g/units/a.toml:3:15: `python-fork` must be a boolean",
        ],
    ),
    case(
        "entrypoint without function",
        CONFIG,
        "[\"a\"]\ninit = 0\nentrypoint = \"test_case\"\n",
        B,
        &["test_g/units/a.toml:3:14: entrypoint `test_case` is not in \"module:function\" form"],
    ),
    case(
        "entrypoint as a path",
        CONFIG,
        "[\"a\"]\ninit = 0\nentrypoint = \"units/a.py:run\"\n",
        B,
        &[
            "test_g/units/a.toml:3:14: entrypoint module `units/a.py` is not a Python module name, and the group folder has no such file",
        ],
    ),
    case(
        "command and entrypoint",
        CONFIG,
        "[\"a\"]\ninit = 0\nentrypoint = \"m:f\"\ncommand = [\"./a\"]\n",
        B,
        &["test_g/units/a.toml:4:1: unit `a` has both `entrypoint` and `command`"],
    ),
    case(
        "command empty and not strings",
        CONFIG,
        "[\"a\"]\ninit = 0\ncommand = []\n",
        "[\"b\"]\ninit = 1\ncommand = [\"./b\", 1]\n",
        &[
            "test_g/units/a.toml:3:11: `command` must name a program: the list is empty",
            "test_g/units/b.toml:3:19: `command` must be a list of strings, but it contains an integer 1",
        ],
    ),
    case(
        "ready_event blank and ready_timeout zero",
        CONFIG,
        "[\"a\"]\ninit = 0\nready_event = \" \"\nready_timeout = 0\n",
        B,
        &[
            "test_g/units/a.toml:3:15: `ready_event` is blank",
            "test_g/units/a.toml:4:17: `ready_timeout` cannot be 0",
        ],
    ),
    case(
        "unit timeout negative",
        CONFIG,
        "[\"a\"]\ninit = 0\ntimeout = -1\n",
        B,
        &["test_g/units/a.toml:3:11: `timeout` cannot be -1"],
    ),
    case(
        "in-except wrong case",
        CONFIG,
        "[\"a\"]\ninit = 0\nin-except = \"resume-all\"\n",
        B,
        &["test_g/units/a.toml:3:13: `in-except` of unit `a` cannot be `resume-all`"],
    ),
    case(
        "both dependency spellings",
        CONFIG,
        A,
        "[\"b\"]\ninit = 1\nunit_dependencies = [\"a\"]\nunity_depencies = []\n",
        &["test_g/units/b.toml:4:1: `unity_depencies` of unit `b` contradicts `unit_dependencies`"],
    ),
    // Regression (found by the differential test): the legacy spelling written first used to
    // win, so its dependency on a disabled unit was reported as well.
    case(
        "the current dependency spelling wins",
        CONFIG,
        "[\"a\"]\ninit = 0\nunity_depencies = [\"b\"]\nunit_dependencies = []\n",
        "[\"b\"]\ninit = 1\nenabled = false\n",
        &["test_g/units/a.toml:4:1: `unit_dependencies` of unit `a` contradicts `unity_depencies`"],
    ),
    case(
        "both dependency spellings agreeing",
        CONFIG,
        A,
        "[\"b\"]\ninit = 1\nunity_depencies = [\"a\"]\nunit_dependencies = [\"a\"]\n",
        &[],
    ),
    case(
        "events duplicate, blank, wrong type",
        CONFIG,
        "[\"a\"]\ninit = 0\nevents = [\"x\", \"x\", \"\"]\n",
        "[\"b\"]\ninit = 1\nevents = \"x\"\n",
        &[
            "test_g/units/a.toml:3:16: `events` of unit `a` lists `x` twice",
            "test_g/units/a.toml:3:21: `events` of unit `a` contains a blank value",
            "test_g/units/b.toml:3:10: `events` must be a list of strings, found a string \"x\"",
        ],
    ),
    case(
        "env values must be strings",
        CONFIG,
        "[\"a\"]\ninit = 0\nenv = { PORT = 8080, \"A=B\" = \"x\" }\n",
        "[\"b\"]\ninit = 1\nenv = [\"X=1\"]\n",
        &[
            "test_g/units/a.toml:3:7: environment variable name `A=B` of unit `a` is invalid",
            "test_g/units/a.toml:3:16: environment variable `PORT` of unit `a` must be a string, found an integer 8080",
            "test_g/units/b.toml:3:7: `env` must be a table of strings, found a list",
        ],
    ),
    // OpenTelemetry and remote units (issue 18).
    case(
        "otel keys and a remote unit",
        CONFIG,
        "[\"a\"]\ninit = 0\nremote = true\notel_service = \"orders-api\"\notel_span_end = true\n",
        B,
        &[],
    ),
    case(
        "two units with one otel_service",
        CONFIG,
        "[\"a\"]\ninit = 0\notel_service = \"api\"\n",
        "[\"b\"]\ninit = 1\notel_service = \"api\"\n",
        &["test_g/units/b.toml:3:16: units `a` and `b` both have otel_service `api`"],
    ),
    case(
        "remote unit with a command",
        CONFIG,
        "[\"a\"]\ninit = 0\ncommand = [\"./a\"]\nremote = true\n",
        B,
        &["test_g/units/a.toml:4:1: unit `a` is `remote = true` and has `command`"],
    ),
    case(
        "otel_span_end not a boolean",
        CONFIG,
        "[\"a\"]\ninit = 0\notel_span_end = \"yes\"\n",
        B,
        &["test_g/units/a.toml:3:17: `otel_span_end`"],
    ),
    case(
        "cwd blank",
        CONFIG,
        "[\"a\"]\ninit = 0\ncwd = \"\"\n",
        B,
        &["test_g/units/a.toml:3:7: `cwd` is blank"],
    ),
    // Dependencies.
    case(
        "unknown dependency with suggestion",
        CONFIG,
        A,
        "[\"b\"]\ninit = 1\nunit_dependencies = [\"aa\"]\n",
        &["test_g/units/b.toml:3:22: unit `b` depends on unknown unit `aa`"],
    ),
    case(
        "self dependency",
        CONFIG,
        A,
        "[\"b\"]\ninit = 1\nunit_dependencies = [\"b\"]\n",
        &["test_g/units/b.toml:3:22: unit `b` depends on itself"],
    ),
    case(
        "disabled dependency",
        CONFIG,
        "[\"a\"]\ninit = 0\nenabled = false\n",
        B,
        &["test_g/units/b.toml:3:22: unit `b` depends on disabled unit `a`"],
    ),
    case(
        "disabled unit may depend on a disabled unit",
        CONFIG,
        "[\"a\"]\ninit = 0\nenabled = false\n",
        "[\"b\"]\ninit = 1\nenabled = false\nunit_dependencies = [\"a\"]\n",
        &[],
    ),
    case(
        "two-unit cycle",
        CONFIG,
        "[\"a\"]\ninit = 0\nunit_dependencies = [\"b\"]\n",
        B,
        &["test_g/units/a.toml:3:22: dependency cycle: `a` -> `b` -> `a`"],
    ),
    case(
        "a missing unit is not reported again as an unknown dependency; stray table",
        "[\"Configs\"]\nunits = [\"a\", \"b\", \"c\"]\n",
        "[\"a\"]\ninit = 0\nunity_depencies = [\"c\"]\n",
        "[\"b\"]\ninit = 1\nunity_depencies = [\"a\"]\n\n[dummy]\n",
        &[
            "test_g/config.toml:2:20: unit `c` is listed in `units` but units/c.toml does not exist",
            "warning: test_g/units/b.toml:5:2: table `[\"dummy\"]` in units/b.toml is ignored",
        ],
    ),
    // Circuits.
    case(
        "valid circuit with every budget form",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nname = \"c\"\nhops = [\"a:a-sent\", { hop = \"b:b-got\", budget-ms = 5 }]\nbudget-ms = 10.5\n",
        A,
        B,
        &[],
    ),
    case(
        "circuit hop with unknown probe",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nhops = [\"a:a-sent\", \"b:b-gto\"]\n",
        A,
        B,
        &[
            "test_g/config.toml:4:21: circuit `circuit-1`: probe `b-gto` is not in the `events` of unit `b`",
        ],
    ),
    case(
        "circuit hop with unknown unit and bad form",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nname = \"x\"\nhops = [\"a:a-sent\", \"c:b-got\"]\n[[circuit]]\nname = \"y\"\nhops = [\"a-sent\", \"b:b-got\"]\n",
        A,
        B,
        &[
            "test_g/config.toml:5:21: circuit `x` names unknown unit `c`",
            "test_g/config.toml:8:9: hop `a-sent` is not in \"unit:probe\" form",
        ],
    ),
    case(
        "circuit with one hop, duplicate name, unknown key, zero budget",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nname = \"x\"\nhops = [\"a:a-sent\"]\n[[circuit]]\nname = \"x\"\nhops = [\"a:a-sent\", \"b:b-got\"]\nbudget-ms = 0\nbudjet = 1\n",
        A,
        B,
        &[
            "test_g/config.toml:4:8: circuit `x` has 1 hop(s); a circuit needs at least two",
            "test_g/config.toml:7:8: two circuits are named `x`",
            "test_g/config.toml:9:13: `budget-ms` cannot be 0",
            "test_g/config.toml:10:1: unknown key `budjet` in `[[circuit]]`",
        ],
    ),
    case(
        "hop budgets that name no hop or the first hop",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nhops = [\"a:a-sent\", \"b:b-got\"]\nhop-budget-ms = { \"a:a-sent\" = 5, \"b:b-gt\" = 5 }\n",
        A,
        B,
        &[
            "test_g/config.toml:5:19: the first hop of circuit `circuit-1` has a budget",
            "test_g/config.toml:5:35: `hop-budget-ms` names `b:b-gt`, which is not a hop of circuit `circuit-1`",
        ],
    ),
    case(
        "circuit as a plain table",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[circuit]\nhops = []\n",
        A,
        B,
        &["test_g/config.toml:3:1: `circuit` must be an array of tables, found a table"],
    ),
    case(
        "circuit through a disabled unit",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nhops = [\"a:a-sent\", \"b:b-got\"]\n",
        A,
        "[\"b\"]\ninit = 1\nenabled = false\nevents = [\"b-got\"]\n",
        &["test_g/config.toml:4:21: circuit `circuit-1` goes through disabled unit `b`"],
    ),
    // Delivery contracts (issue 17).
    case(
        "valid contracts, every delivery",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"at-least-once\"\nwithin-ms = 2000\n[[contract]]\nsend = \"a:a-ready\"\nreceive = \"b:b-got\"\ndelivery = \"exactly-once\"\n[[contract]]\nsend = \"b:b-got\"\nreceive = \"a:a-sent\"\ndelivery = \"at-most-once\"\n",
        A,
        B,
        &[],
    ),
    case(
        "contract with unknown unit and unknown probe",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"c:a-sent\"\nreceive = \"b:b-gto\"\ndelivery = \"exactly-once\"\n",
        A,
        B,
        &[
            "test_g/config.toml:4:8: contract `c:a-sent -> b:b-gto` names unknown unit `c`",
            "test_g/config.toml:5:11: contract `c:a-sent -> b:b-gto`: probe `b-gto` is not in the `events` of unit `b`",
        ],
    ),
    case(
        "contract with a bad delivery, bad form, zero and negative within-ms",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b-got\"\ndelivery = \"at-least-one\"\nwithin-ms = 0\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"exactly-once\"\nwithin-ms = -5\n",
        A,
        B,
        &[
            "test_g/config.toml:5:11: `receive` = `b-got` is not in \"unit:probe\" form",
            "test_g/config.toml:6:12: `delivery` = `at-least-one` is not a delivery guarantee",
            "test_g/config.toml:7:13: `within-ms` cannot be 0",
            "test_g/config.toml:12:13: `within-ms` cannot be -5",
        ],
    ),
    case(
        "a pair covered by two contracts; a missing delivery; an unknown key",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"exactly-once\"\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"at-most-once\"\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"at-most-once\"\nwithin = 5\n",
        A,
        B,
        &[
            "test_g/config.toml:7:1: two contracts cover `a:a-sent -> b:b-got`",
            "test_g/config.toml:11:1: contract has no `delivery`",
            "test_g/config.toml:18:1: unknown key `within` in `[[contract]]`",
        ],
    ),
    case(
        "contract through a disabled unit; contract as a plain table",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"a:a-sent\"\nreceive = \"b:b-got\"\ndelivery = \"exactly-once\"\n",
        A,
        "[\"b\"]\ninit = 1\nenabled = false\nevents = [\"b-got\"]\n",
        &["test_g/config.toml:5:11: contract `a:a-sent -> b:b-got` names disabled unit `b`"],
    ),
    // Real services (issue 14): readiness checks, ports, placeholders, one-shot units.
    case(
        "ready checks, ports and placeholders",
        CONFIG,
        "[\"a\"]\ninit = 0\nports = [\"http\"]\ncommand = [\"srv\", \"--port={port.http}\", \"${HOME}\"]\nready_http = \"http://127.0.0.1:{port.http}/health\"\n",
        "[\"b\"]\ninit = 1\nunit_dependencies = [\"a\"]\ncommand = [\"cli\", \"{a.port.http}\"]\nready_log = \"^up$\"\n",
        &[],
    ),
    case(
        "two readiness checks",
        CONFIG,
        "[\"a\"]\ninit = 0\nready_event = \"x\"\nready_tcp = \"127.0.0.1:1\"\n",
        B,
        &["test_g/units/a.toml:4:13: unit `a` has both `ready_event` and `ready_tcp`"],
    ),
    case(
        "malformed readiness checks",
        CONFIG,
        "[\"a\"]\ninit = 0\nready_tcp = \"localhost\"\n",
        "[\"b\"]\ninit = 1\nready_http = \"https://127.0.0.1/\"\n",
        &[
            "test_g/units/a.toml:3:13: `ready_tcp` of unit `a` `localhost` has no port",
            "test_g/units/b.toml:3:14: `ready_http` of unit `b` `https://127.0.0.1/`: https is not supported",
        ],
    ),
    case(
        "invalid regex",
        CONFIG,
        "[\"a\"]\ninit = 0\nready_log = \"(unclosed\"\n",
        B,
        &["test_g/units/a.toml:3:13: `ready_log` of unit `a` is not a valid regular expression"],
    ),
    case(
        "unknown placeholders",
        CONFIG,
        "[\"a\"]\ninit = 0\nports = [\"http\"]\ncommand = [\"srv\", \"{port.admin}\"]\n",
        "[\"b\"]\ninit = 1\nenv = { URL = \"{c.port.http}\" }\n",
        &[
            "test_g/units/a.toml:4:11: `command` of unit `a`: placeholder `{port.admin}` names no port of unit `a`",
            "test_g/units/b.toml:3:7: `env` of unit `b`: placeholder `{c.port.http}` names no port of a unit `c`",
        ],
    ),
    case(
        "bad port names",
        CONFIG,
        "[\"a\"]\ninit = 0\nports = [\"http\", \"http\", \"a b\"]\n",
        B,
        &[
            "test_g/units/a.toml:3:18: port `http` of unit `a` is declared twice",
            "test_g/units/a.toml:3:26: port name `a b` of unit `a` is not valid",
        ],
    ),
    case(
        "completed dependencies: unknown and cycles across both lists",
        CONFIG,
        "[\"a\"]\ninit = 0\ncompleted_dependencies = [\"b\", \"migrate\"]\n",
        B,
        &[
            "test_g/units/a.toml:3:27: dependency cycle: `a` -> `b` -> `a`",
            "test_g/units/a.toml:3:32: unit `a` depends on unknown unit `migrate`",
        ],
    ),
    // Faults (issue 17).
    case(
        "a valid fault",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[fault]]\nafter = \"a:a-sent\"\noccurrence = 2\nunit = \"b\"\naction = \"restart\"\nduration-ms = 500\n",
        "[\"a\"]\ninit = 0\ncommand = [\"x\"]\nevents = [\"a-ready\", \"a-sent\"]\n",
        "[\"b\"]\ninit = 1\ncommand = [\"x\"]\nunit_dependencies = [\"a\"]\nevents = [\"b-got\"]\n",
        &[],
    ),
    case(
        "fault errors: unknown probe, unknown unit, bad action, negative duration",
        "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[fault]]\nafter = \"a:a-snt\"\nunit = \"c\"\naction = \"restart\"\n[[fault]]\nafter = \"a:a-sent\"\nunit = \"b\"\naction = \"explode\"\n[[fault]]\nafter = \"a:a-sent\"\nunit = \"b\"\naction = \"stop\"\nduration-ms = -5\n",
        "[\"a\"]\ninit = 0\ncommand = [\"x\"]\nevents = [\"a-ready\", \"a-sent\"]\n",
        "[\"b\"]\ninit = 1\ncommand = [\"x\"]\nevents = [\"b-got\"]\n",
        &[
            "test_g/config.toml:4:9: fault `after` names probe `a-snt`, which unit `a` does not declare",
            "test_g/config.toml:5:8: fault names unknown unit `c`",
            "test_g/config.toml:10:10: fault `action` cannot be `explode`",
            "test_g/config.toml:15:15: `duration-ms` must be between 0 and 86400000, found -5",
        ],
    ),
];

#[test]
fn every_rule() {
    let mut failures = Vec::new();
    for case in CASES {
        let result = load(case.config, &[("a", case.a), ("b", case.b)]);
        let got = match &result {
            Ok(group) => lines(&group.warnings),
            Err(diagnostics) => lines(diagnostics),
        };
        let matches = got.len() == case.expect.len()
            && case
                .expect
                .iter()
                .zip(&got)
                .all(|(expected, got)| got.starts_with(expected));
        if !matches {
            failures.push(format!(
                "case `{}`:\n  expected: {:#?}\n  got: {:#?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hints_suggest_the_closest_name() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[\"a\"]\ninit = 0\nready_evnt = \"x\"\n",
            B,
            "did you mean `ready_event`?",
        ),
        (
            "[\"a\"]\ninit = 0\nready-timeout = 1\n",
            B,
            "did you mean `ready_timeout`?",
        ),
        (
            "[\"a\"]\ninit = 0\nin-except = \"reload\"\n",
            B,
            "did you mean `Reload`?",
        ),
        (
            A,
            "[\"b\"]\ninit = 1\nunit_dependencies = [\"aa\"]\n",
            "did you mean `a`?",
        ),
        (
            A,
            "[\"b\"]\ninit = 1\nevents = [\"b-got\"]\n[\"b\".extra]\n",
            "known keys:",
        ),
    ];
    for (a, b, hint) in cases {
        // Errors, or the warnings of a group that loads (an unknown key with no close match).
        let diagnostics = match load(CONFIG, &[("a", a), ("b", b)]) {
            Ok(group) => group.warnings,
            Err(diagnostics) => diagnostics,
        };
        let hints: Vec<String> = diagnostics.iter().filter_map(|d| d.hint.clone()).collect();
        assert!(
            hints.iter().any(|h| h.contains(hint)),
            "expected a hint containing {hint:?}, got {hints:?}"
        );
    }
}

#[test]
fn defaults_match_the_original() {
    let group = load(
        "[\"Configs\"]\nunits = [\"a\"]\n",
        &[("a", "[\"a\"]\ninit = 0\nevents = []\n")],
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let s = &group.settings;
    assert!(s.enabled);
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(s.repeat, 0);
    assert_eq!(s.debug_modes, LogMode::ALL);
    assert_eq!(s.test_modes, [LogMode::Debug]);
    assert!(!s.use_ai);
    assert!(s.diagnostics && s.detect_bad_behavior && s.save_resume);
    assert!(s.gen_metrics && s.save_metrics && s.save_scores);
    let a = &group.units["a"];
    assert!(a.enabled);
    assert_eq!(a.launch, Launch::Passive);
    assert_eq!(a.ready_event, None);
    assert_eq!(a.ready_timeout, Duration::from_secs(10));
    assert_eq!(a.timeout, None);
    assert!(!a.use_setup);
    assert_eq!(a.in_except, InExcept::Resume);
    assert!(a.dependencies.is_empty() && a.env.is_empty() && a.cwd.is_none());
    assert!(a.otel_service.is_none() && !a.otel_span_end && !a.remote);
    assert!(group.circuits.is_empty());
}

#[test]
fn python_fork_is_read_on_the_group_and_on_a_unit() {
    let group = load(CONFIG, &[("a", A), ("b", B)]).unwrap_or_else(|d| panic!("{d}"));
    assert!(group.settings.python_fork, "forks by default");
    assert_eq!(group.units["a"].python_fork, None);
    let config = "[\"Configs\"]\nunits = [\"a\", \"b\"]\npython-fork = false\n";
    let a = "[\"a\"]\ninit = 0\npython-fork = true\n";
    let b = "[\"b\"]\ninit = 1\npython-fork = false\n";
    let group = load(config, &[("a", a), ("b", b)]).unwrap_or_else(|d| panic!("{d}"));
    assert!(!group.settings.python_fork);
    assert_eq!(group.units["a"].python_fork, Some(true));
    assert_eq!(group.units["b"].python_fork, Some(false));
}

#[test]
fn legacy_aliases_and_every_value_form() {
    let config = "[\"Configs\"]\nunits = [\"a\", \"b\"]\nanalitics = false\nsave-analitics = false\n\
                  save-performance = false\ntest-modes = \"All\"\ndebug-modes = [\"INFO\"]\n\
                  timeout = 2.5\nrepeat = 10\nsetup = [\"./broker\", \"--quiet\"]\n";
    let a = "[\"a\"]\ninit = 7\ncommand = [\"./server\", \"--port\", \"0\"]\nenv = { RUST_LOG = \"debug\" }\n\
             cwd = \"srv\"\nin-except = \"Resume-ALL\"\ntimeout = 3\nready_timeout = 0.5\nevents = [\"up\"]\n";
    let b = "[\"b\"]\ninit = 0\nunity_depencies = [\"a\"]\nentrypoint = \"pkg.mod:main\"\nin-except = \"Reload\"\n";
    let group = load(config, &[("a", a), ("b", b)]).unwrap_or_else(|d| panic!("{d}"));
    let s = &group.settings;
    assert!(!s.gen_metrics && !s.save_metrics && !s.save_scores);
    assert_eq!(s.test_modes, LogMode::ALL);
    assert_eq!(s.debug_modes, [LogMode::Info]);
    assert_eq!(s.timeout, Duration::from_millis(2500));
    assert_eq!(s.repeat, 10);
    assert_eq!(
        group.setup,
        Some(testrium_config::Setup::Command(vec![
            "./broker".into(),
            "--quiet".into()
        ]))
    );
    let a = &group.units["a"];
    assert_eq!(a.init, 7);
    assert_eq!(
        a.launch,
        Launch::Command(vec!["./server".into(), "--port".into(), "0".into()])
    );
    assert_eq!(a.env.get("RUST_LOG").map(String::as_str), Some("debug"));
    assert_eq!(a.cwd.as_deref(), Some(std::path::Path::new("srv")));
    assert_eq!(a.in_except, InExcept::ResumeAll);
    assert_eq!(a.timeout, Some(Duration::from_secs(3)));
    assert_eq!(a.ready_timeout, Duration::from_millis(500));
    let b = &group.units["b"];
    assert_eq!(b.dependencies, ["a"]);
    assert_eq!(b.in_except, InExcept::Reload);
    assert_eq!(
        b.launch,
        Launch::Entrypoint {
            module: "pkg.mod".into(),
            function: "main".into()
        }
    );
}

#[test]
fn builders_validate_contracts_like_files() {
    use testrium_config::{Contract, Delivery, Group, ProbeRef, Unit};
    let contract = |send: (&str, &str), receive: (&str, &str)| {
        Contract::new(
            ProbeRef::new(send.0, send.1),
            ProbeRef::new(receive.0, receive.1),
            Delivery::ExactlyOnce,
        )
    };
    let group = || {
        Group::builder("test_b", "/tmp")
            .unit(Unit::passive("a").events(["sent"]))
            .unit(Unit::passive("b").events(["got"]))
    };
    let ok = group()
        .contract(contract(("a", "sent"), ("b", "got")).within(Duration::from_millis(5)))
        .build()
        .unwrap_or_else(|d| panic!("{:?}", lines(&d)));
    assert_eq!(ok.contracts.len(), 1);
    let err = group()
        .contract(contract(("a", "sent"), ("c", "got")))
        .contract(contract(("a", "sent"), ("b", "got")).within(Duration::ZERO))
        .contract(contract(("a", "sent"), ("b", "got")))
        .build()
        .expect_err("invalid contracts");
    let messages: Vec<String> = err.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        messages,
        [
            "contract `a:sent -> c:got` names unknown unit `c`",
            "`within-ms` of contract `a:sent -> b:got` must be greater than 0",
            "two contracts cover `a:sent -> b:got`",
        ]
    );
}

#[test]
fn contracts_keep_their_values() {
    let config = "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[contract]]\nsend = \"a:a-sent\"\n\
                  receive = \"b:b-got\"\ndelivery = \"at-most-once\"\nwithin-ms = 250\n";
    let group = load(config, &[("a", A), ("b", B)]).unwrap_or_else(|d| panic!("{:?}", lines(&d)));
    let contract = &group.contracts[0];
    assert_eq!(contract.send, testrium_config::ProbeRef::new("a", "a-sent"));
    assert_eq!(
        contract.receive,
        testrium_config::ProbeRef::new("b", "b-got")
    );
    assert_eq!(contract.delivery, testrium_config::Delivery::AtMostOnce);
    assert_eq!(contract.within, Some(Duration::from_millis(250)));
    assert_eq!(contract.name(), "a:a-sent -> b:b-got");
}

#[test]
fn circuit_budgets_land_on_their_hops() {
    let config = "[\"Configs\"]\nunits = [\"a\", \"b\"]\n[[circuit]]\nname = \"rr\"\n\
                  hops = [\"a:a-ready\", { hop = \"b:b-got\", budget-ms = 5 }, \"a:a-sent\"]\n\
                  hop-budget-ms = { \"a:a-sent\" = 0.5 }\nbudget-ms = 100\n";
    let group = load(config, &[("a", A), ("b", B)]).unwrap_or_else(|d| panic!("{d}"));
    let circuit = &group.circuits[0];
    assert_eq!(circuit.name, "rr");
    let budgets: Vec<Option<Duration>> = circuit.hops.iter().map(|h| h.budget).collect();
    assert_eq!(
        budgets,
        [
            None,
            Some(Duration::from_millis(5)),
            Some(Duration::from_micros(500))
        ]
    );
    assert_eq!(circuit.total_budget, Some(Duration::from_millis(100)));
    assert_eq!(
        (
            circuit.hops[1].unit.as_str(),
            circuit.hops[1].probe.as_str()
        ),
        ("b", "b-got")
    );
}

#[test]
fn setup_py_and_setup_command() {
    let scratch = crate::support::Scratch::new();
    scratch.write(&[
        ("test_s/config.toml", "[\"Configs\"]\nunits = []\n"),
        ("test_s/setup.py", "def main():\n    pass\n"),
    ]);
    std::fs::create_dir_all(scratch.path("test_s/units")).unwrap_or_else(|e| panic!("{e}"));
    let group =
        testrium_config::load_group(&scratch.path("test_s")).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        group.setup,
        Some(testrium_config::Setup::PythonMain(
            scratch.path("test_s/setup.py")
        ))
    );
    scratch.write(&[(
        "test_s/config.toml",
        "[\"Configs\"]\nunits = []\nsetup = [\"./x\"]\n",
    )]);
    let diagnostics = testrium_config::load_group(&scratch.path("test_s"))
        .err()
        .unwrap_or_default();
    assert_eq!(
        lines(&diagnostics),
        ["test_s/config.toml:3:9: the group has both `setup` in `[\"Configs\"]` and a setup.py"]
    );
}

#[test]
fn builders_validate_like_files() {
    use testrium_config::{Circuit, Group, Hop, Unit};
    let ok = Group::builder("test_b", "/tmp")
        .unit(Unit::passive("x").events(["p"]))
        .unit(
            Unit::command("y", ["./y"])
                .init(0)
                .depends_on(["x"])
                .events(["q"]),
        )
        .circuit(
            Circuit::new("c")
                .hop(Hop::new("x", "p"))
                .hop(Hop::new("y", "q")),
        )
        .build()
        .unwrap_or_else(|d| panic!("{d}"));
    // `x` had no init: it gets the next number after the highest given.
    assert_eq!(ok.units["x"].init, 1);

    let broken = Group::builder("test_b", "/tmp")
        .timeout(Duration::ZERO)
        .repeat(11)
        .unit(Unit::entrypoint("a", "no-colon").init(0).depends_on(["b"]))
        .unit(
            Unit::command("b", Vec::<String>::new())
                .init(0)
                .depends_on(["a"]),
        )
        .unit(Unit::passive("../c").events(["e", "e"]))
        .circuit(
            Circuit::new("c")
                .hop(Hop::new("a", "zz"))
                .hop(Hop::new("q", "e").within(Duration::ZERO)),
        )
        .build()
        .err()
        .unwrap_or_default();
    let messages: Vec<&str> = broken.iter().map(|d| d.message.as_str()).collect();
    let expected = [
        "unit `a`: entrypoint `no-colon` is not in \"module:function\" form",
        "group `timeout` must be greater than 0",
        "`repeat` must be between 0 and 10, found 11",
        "duplicate init 0: units `a` and `b`",
        "`command` must name a program: the list is empty",
        "unit name `../c` cannot be used: it contains a path separator",
        "`events` of unit `../c` lists `e` twice",
        "dependency cycle: `a` -> `b` -> `a`",
        "circuit `c`: probe `zz` is not in the `events` of unit `a`",
        "budget of hop `q:e` must be greater than 0",
        "circuit `c` names unknown unit `q`",
    ];
    for message in expected {
        assert!(
            messages.contains(&message),
            "missing {message:?} in {messages:#?}"
        );
    }
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    assert!(
        broken
            .iter()
            .all(|d| d.path == std::path::Path::new("test_b") && d.line == 0)
    );
}

#[test]
fn cycles_name_every_unit_in_them() {
    use testrium_config::{Group, Unit};
    let diagnostics = Group::builder("test_cycle", "/tmp")
        .unit(Unit::passive("api").init(0).depends_on(["db"]))
        .unit(Unit::passive("db").init(1).depends_on(["queue"]))
        .unit(Unit::passive("queue").init(2).depends_on(["api"]))
        .unit(Unit::passive("free").init(3).depends_on(["api"]))
        .build()
        .err()
        .unwrap_or_default();
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        ["dependency cycle: `api` -> `db` -> `queue` -> `api`"]
    );
}

#[test]
fn large_groups_validate() {
    // 500-deep dependency chain and 200 more units: no recursion limit, no quadratic blow-up.
    use testrium_config::{Group, Unit};
    let mut builder = Group::builder("test_big", "/tmp");
    for i in 0..700u32 {
        let mut unit = Unit::passive(format!("u{i}"))
            .init(i)
            .events([format!("p{i}")]);
        if (1..500).contains(&i) {
            unit = unit.depends_on([format!("u{}", i - 1)]);
        }
        builder = builder.unit(unit);
    }
    let group = builder.build().unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(group.units.len(), 700);

    let mut cyclic = Group::builder("test_big_cycle", "/tmp");
    for i in 0..500u32 {
        cyclic = cyclic.unit(
            Unit::passive(format!("u{i}"))
                .init(i)
                .depends_on([format!("u{}", (i + 1) % 500)]),
        );
    }
    let diagnostics = cyclic.build().err().unwrap_or_default();
    assert_eq!(diagnostics.len(), 1);
    let message = &diagnostics.as_slice()[0].message;
    assert!(
        message.starts_with("dependency cycle: `u0` -> `u1` -> "),
        "{message}"
    );
    assert!(message.ends_with("`u499` -> `u0`"), "{message}");
}

#[test]
fn entrypoint_modules_may_be_file_names_of_the_group() {
    // As in the original, `<group>/<module>.py` is loaded whatever the module's name.
    let scratch = crate::support::Scratch::new();
    scratch.write(&[
        (
            "test_e/config.toml",
            "[\"Configs\"]\nunits = [\"a\", \"b\"]\n",
        ),
        (
            "test_e/units/a.toml",
            "[\"a\"]\ninit = 0\nentrypoint = \"my-app:run\"\n",
        ),
        (
            "test_e/units/b.toml",
            "[\"b\"]\ninit = 1\nentrypoint = \"app.py:run\"\n",
        ),
        ("test_e/my-app.py", "def run():\n    pass\n"),
        ("test_e/app.py", "def run():\n    pass\n"),
    ]);
    let diagnostics = testrium_config::load_group(&scratch.path("test_e"))
        .err()
        .unwrap_or_default();
    assert_eq!(
        lines(&diagnostics),
        [
            "test_e/units/b.toml:3:14: entrypoint module `app.py` is not a Python module name, and the group folder has no such file"
        ]
    );
    assert_eq!(
        diagnostics.as_slice()[0].hint.as_deref(),
        Some("write the module without `.py`: `app`")
    );
    scratch.write(&[(
        "test_e/units/b.toml",
        "[\"b\"]\ninit = 1\nentrypoint = \"app:run\"\n",
    )]);
    let group =
        testrium_config::load_group(&scratch.path("test_e")).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        group.units["a"].launch,
        Launch::Entrypoint {
            module: "my-app".into(),
            function: "run".into()
        }
    );
}
