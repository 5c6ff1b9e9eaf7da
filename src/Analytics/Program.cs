using Analytics;
using Analytics.Cli;

// No sub-command (nothing, or only host options such as --urls or --Analytics:AdminToken=…): run
// the web service. That is also how WebApplicationFactory starts it in tests. Otherwise the command
// line, wherever the command stands (`analytics --redis … sites list` too), `analytics --help`, and
// a word that is no command (a typo such as `analytics site list`), which it refuses.
if (!args.Any(a => a is "-h" or "-?" or "--help" or "--version" || AnalyticsCommand.Commands.Contains(a)) && HostArguments.AreOnly(args))
{
    await ServerApp.Build(HostArguments.WithConnectionStrings(args)).RunAsync();
    return 0;
}

return await AnalyticsCommand.RunAsync(args);

/// <summary>The entry point, named for WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;

/// <summary>The command line of the bare web service: host options only.</summary>
internal static class HostArguments
{
    /// <summary>
    /// Host settings only, in any form the host reads (<c>--key=value</c>, <c>--key value</c>,
    /// <c>/key value</c>, <c>key=value</c>): no stray word (a mistyped command), no short option.
    /// </summary>
    public static bool AreOnly(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal) || arg.StartsWith('/'))
            {
                if (!arg.Contains('=', StringComparison.Ordinal) && i + 1 < args.Length)
                {
                    i++;
                }
            }
            else if (!arg.Contains('=', StringComparison.Ordinal) || arg.StartsWith('-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>--redis</c> and <c>--clickhouse</c> (as for <c>serve</c>) become the connection strings.</summary>
    public static string[] WithConnectionStrings(string[] args)
    {
        var result = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var (name, value) = args[i].Split('=', 2) is [var n, var v] ? (n, (string?)v) : (args[i], null);
            var key = name switch
            {
                "--redis" => "ConnectionStrings:Redis",
                "--clickhouse" => "ConnectionStrings:ClickHouse",
                _ => null,
            };
            if (key is null)
            {
                result.Add(args[i]);
                continue;
            }

            value ??= i + 1 < args.Length ? args[++i] : "";
            result.Add($"--{key}={value}");
        }

        return [.. result];
    }
}
