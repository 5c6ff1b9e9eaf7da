using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests.Reporting;

/// <summary>
/// Writes a result as loadtests/results/&lt;timestamp&gt;-&lt;name&gt;.json (everything, git-ignored)
/// and .md (the summary, fit to commit).
/// </summary>
internal static class ResultFiles
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public static (string Json, string Markdown) Write(string? directory, string name, object result, string markdown)
    {
        var folder = directory ?? Repository.ResultsDirectory;
        Directory.CreateDirectory(folder);
        var stem = Path.Combine(folder, $"{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{name}");
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(result, result.GetType(), Json));
        File.WriteAllText(stem + ".md", markdown);
        return (stem + ".json", stem + ".md");
    }
}
