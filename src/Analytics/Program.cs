using Analytics;
using Analytics.Cli;

// No sub-command (or only host options such as --urls): run the web service. That is also how
// WebApplicationFactory starts it in tests. Otherwise: the command line (`analytics --help`).
if (args.Length == 0 || (args[0].StartsWith("--", StringComparison.Ordinal) && args[0] is not ("--help" or "--version")))
{
    await ServerApp.Build(args).RunAsync();
    return 0;
}

return await AnalyticsCommand.RunAsync(args);

/// <summary>The entry point, named for WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
