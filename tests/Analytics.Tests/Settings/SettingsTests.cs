using Analytics.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Analytics.Tests.Settings;

/// <summary>A setting that would make the service misbehave stops it at start, naming the setting.</summary>
public sealed class SettingsTests(Servers servers)
{
    [Theory]
    [InlineData("Analytics:Counting:MaxWritesInFlight", "0")]
    [InlineData("Analytics:Counting:RetryDelay", "00:00:00")]
    [InlineData("Analytics:Counting:MaxBufferedHits", "0")]
    [InlineData("Analytics:Ingest:MaxBackfill", "100.00:00:00")]
    [InlineData("Analytics:Ingest:MaxBackfill", "-1.00:00:00")]
    [InlineData("Analytics:Ingest:MaxBodyBytes", "-1")]
    [InlineData("Analytics:Ingest:ClientRateLimit", "-5")]
    [InlineData("Analytics:Live:MinPushInterval", "-00:00:01")]
    [InlineData("Analytics:Live:Days", "0")]
    public async Task ANonsenseSettingStopsTheServiceAtStart(string key, string value)
    {
        await using var app = new TestApp(servers, new() { [key] = value });

        var refused = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        var name = key.Split(':')[^1];
        Assert.Contains(name, refused.Message, StringComparison.Ordinal);
    }
}
