using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests.Commands;

/// <summary>Options several commands share (new instances for each command).</summary>
internal static class CommonOptions
{
    public static Option<TimeSpan> Duration(TimeSpan fallback, string description = "How long to send load: 30s, 2m, 500ms, or a plain number of seconds") =>
        new("--duration", "-d")
        {
            Description = description,
            DefaultValueFactory = _ => fallback,
            CustomParser = ParseDuration,
        };

    public static Option<int> Connections(int fallback = 32) => AtLeastOne(new("--connections", "-c")
    {
        Description = "Concurrent connections (= workers, each with one request in flight)",
        DefaultValueFactory = _ => fallback,
    });

    /// <summary>Refuses 0 and negative numbers when the command line is parsed, before anything is started.</summary>
    public static Option<int> AtLeastOne(Option<int> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError($"{option.Name} must be 1 or more.");
            }
        });
        return option;
    }

    public static Option<double> Rate(string description = "Requests a second in all, paced; 0 = as fast as the connections go") => new("--rate")
    {
        Description = description,
        DefaultValueFactory = _ => 0,
    };

    public static Option<int> Sites(int fallback = 5) => AtLeastOne(new("--sites") { Description = "Sites to create (time zones in turn: UTC, Europe/Istanbul, America/New_York, …)", DefaultValueFactory = _ => fallback });

    public static Option<int> Pages(int fallback = 200) => AtLeastOne(new("--pages") { Description = "Distinct pages per site (/articles/0 … N-1)", DefaultValueFactory = _ => fallback });

    public static Option<int> Days(int fallback = 3) => new("--days") { Description = "Batches back-fill events over this many days (ts up to N days back, at most 30)", DefaultValueFactory = _ => fallback };

    public static Option<string?> Results() => new("--results") { Description = "Folder for the result files (default: loadtests/results in the repository)" };

    public static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value.Trim();
        if (TryParseDuration(text, out var value))
        {
            return value;
        }

        result.AddError($"'{text}' is not a duration: use 30s, 2m, 500ms, 150us, 1h or a number of seconds.");
        return default;
    }

    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        (string Suffix, double Seconds)[] units = [("us", 0.000001), ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number >= 0)
            {
                value = TimeSpan.FromSeconds(number * seconds);
                return true;
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain) && plain >= 0)
        {
            value = TimeSpan.FromSeconds(plain);
            return true;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The command line as typed, for result files.</summary>
    public static string CommandLine() => "Analytics.LoadTests " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
}

/// <summary>The options that say which service to load: start one (default), or <c>--target</c> a running one.</summary>
internal sealed class StackOptionSet
{
    private readonly Option<Uri?> _target = new("--target")
    {
        Description = "Load this running service (http://host:port) instead of starting one; needs --redis and --admin-token (and --clickhouse to verify the rollup)",
        CustomParser = r => Uri.TryCreate(r.Tokens[0].Value, UriKind.Absolute, out var uri) ? uri : null,
    };

    private readonly Option<string?> _redis = new("--redis") { Description = "The target's Redis (StackExchange.Redis connection string), read to verify the counts" };

    private readonly Option<string?> _clickHouse = new("--clickhouse") { Description = "The target's ClickHouse (ClickHouse.Driver connection string), to roll up and verify" };

    private readonly Option<string?> _adminToken = new("--admin-token") { Description = "The target's admin token (Analytics:AdminToken), to create the run's sites" };

    private readonly Option<string?> _service = new("--service") { Description = "analytics.dll to start (default: src/Analytics/bin/Release/net10.0/analytics.dll)" };

    private readonly Option<bool> _allowDebug = new("--allow-debug") { Description = "Run a Debug build of the service anyway (its numbers mean little)" };

    private readonly Option<bool> _keepData = new("--keep-data") { Description = "Keep the temporary Redis/ClickHouse data and the service's log" };

    private readonly bool _targetable;

    public StackOptionSet(bool targetable) => _targetable = targetable;

    public void AddTo(Command command)
    {
        if (_targetable)
        {
            command.Options.Add(_target);
            command.Options.Add(_redis);
            command.Options.Add(_clickHouse);
            command.Options.Add(_adminToken);
        }

        command.Options.Add(_service);
        command.Options.Add(_allowDebug);
        command.Options.Add(_keepData);
    }

    public StackOptions Read(ParseResult parse, IReadOnlyDictionary<string, string>? serviceSettings = null) => new()
    {
        Target = _targetable ? parse.GetValue(_target) : null,
        Redis = _targetable ? parse.GetValue(_redis) : null,
        ClickHouse = _targetable ? parse.GetValue(_clickHouse) : null,
        AdminToken = _targetable ? parse.GetValue(_adminToken) : null,
        ServicePath = parse.GetValue(_service),
        AllowDebug = parse.GetValue(_allowDebug),
        KeepData = parse.GetValue(_keepData),
        ServiceSettings = serviceSettings ?? new Dictionary<string, string>(),
    };
}
