namespace Analytics;

internal sealed class AnalyticsOptions
{
    public const string Section = "Analytics";

    /// <summary>The first admin's bearer token (<c>Analytics__AdminToken</c>). Without it only staff users can sign in.</summary>
    public string? AdminToken { get; set; }
}
