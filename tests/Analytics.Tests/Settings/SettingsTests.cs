using System.Net;
using Analytics.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Logging.Abstractions;
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
    [InlineData("Analytics:TrustedProxies:0", "10.0.0.0/33")]
    [InlineData("Analytics:TrustedProxies:0", "balancer.internal")]
    public async Task ANonsenseSettingStopsTheServiceAtStart(string key, string value)
    {
        await using var app = new TestApp(servers, new() { [key] = value });

        var refused = Assert.Throws<OptionsValidationException>(() => app.CreateClient());

        var name = key.Split(':').Last(part => !part.All(char.IsAsciiDigit));
        Assert.Contains(name, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardedAddressesAreBelievedFromThisMachineAndTheTrustedProxiesOnly()
    {
        await using var app = new TestApp(servers, new() { ["Analytics:TrustedProxies:0"] = "10.0.0.0/8", ["Analytics:TrustedProxies:1"] = "192.0.2.7" });
        var options = app.Get<IOptions<ForwardedHeadersOptions>>();
        var middleware = new ForwardedHeadersMiddleware(_ => Task.CompletedTask, NullLoggerFactory.Instance, options);

        async Task<string?> ClientAsync(string from)
        {
            var context = new DefaultHttpContext();
            context.Connection.RemoteIpAddress = IPAddress.Parse(from);
            context.Request.Headers["X-Forwarded-For"] = "203.0.113.50";
            await middleware.Invoke(context);
            return context.Connection.RemoteIpAddress?.ToString();
        }

        // A balancer in a trusted network or at a trusted address, and a proxy on this machine.
        Assert.Equal("203.0.113.50", await ClientAsync("10.20.30.40"));
        Assert.Equal("203.0.113.50", await ClientAsync("192.0.2.7"));
        Assert.Equal("203.0.113.50", await ClientAsync("127.0.0.1"));
        // Anyone else sending the header is the client themself.
        Assert.Equal("192.0.2.8", await ClientAsync("192.0.2.8"));
        Assert.Equal("198.51.100.1", await ClientAsync("198.51.100.1"));
    }
}
