namespace Analytics.LoadTests.Stack;

/// <summary>Where the repository is: found by walking up from the harness (or the working folder) to Analytics.sln.</summary>
internal static class Repository
{
    private static readonly Lazy<string?> RootPath = new(Find);

    public static string? Root => RootPath.Value;

    /// <summary>The Release build of the service, where <c>dotnet build -c Release</c> puts it.</summary>
    public static string? ReleaseService => Root is null ? null : Path.Combine(Root, "src", "Analytics", "bin", "Release", "net10.0", "analytics.dll");

    public static string ResultsDirectory => Root is null
        ? Path.GetFullPath("loadtest-results")
        : Path.Combine(Root, "loadtests", "results");

    /// <summary>A wrk script: next to the harness (copied at build), else loadtests/wrk in the repository.</summary>
    public static string WrkScript(string name)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "wrk", name + ".lua");
        if (File.Exists(beside))
        {
            return beside;
        }

        var inRepository = Root is null ? null : Path.Combine(Root, "loadtests", "wrk", name + ".lua");
        return inRepository is not null && File.Exists(inRepository)
            ? inRepository
            : throw new FileNotFoundException($"The wrk script {name}.lua was not found (looked in {beside}).");
    }

    /// <summary>The commit checked out, and whether the service's sources differ from it ("abc1234", "abc1234 + changes in src/").</summary>
    public static string Revision()
    {
        if (Root is null)
        {
            return "unknown";
        }

        var commit = Git("rev-parse --short HEAD")?.Trim();
        var changes = Git("status --porcelain -- src");
        return commit is null ? "unknown" : string.IsNullOrWhiteSpace(changes) ? commit : commit + " + uncommitted changes in src/";
    }

    private static string? Git(string arguments)
    {
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("git", arguments)
            {
                WorkingDirectory = Root!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var git = System.Diagnostics.Process.Start(info);
            if (git is null)
            {
                return null;
            }

            var output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            return git.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static string? Find()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "Analytics.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        return null;
    }
}
