namespace Analytics.Cli;

/// <summary>What a local run prints once it listens: where it is and how to start counting.</summary>
internal static class Welcome
{
    /// <param name="url">Where the service listens.</param>
    /// <param name="madeToken">The admin token this run made (kept in the data folder), or null when it
    /// came from the configuration: a configured secret is not echoed to the terminal or a log.</param>
    /// <param name="redis">The Redis connection string the service uses, so the CLI line works on any port.</param>
    public static void Print(string url, string? madeToken, string redis)
    {
        // Where Redis is, not how to sign in to it: a password in the connection string stays out of the terminal.
        var endpoints = StackExchange.Redis.ConfigurationOptions.Parse(redis, ignoreUnknown: true).EndPoints.Select(e => e is System.Net.DnsEndPoint dns ? $"{dns.Host}:{dns.Port}" : e.ToString());
        var cli = Path.Combine(AppContext.BaseDirectory, "analytics") + $" --redis '{string.Join(',', endpoints)}'";
        var (tokenLine, token) = madeToken is null
            ? ("Admin token: the one configured (Analytics__AdminToken)", "$ADMIN_TOKEN")
            : ($"Admin token: {madeToken}   (kept in the data folder, file admin-token)", madeToken);
        Console.WriteLine($$"""

            Analytics is running at {{url}}   (Ctrl-C stops it and the local servers)
            {{tokenLine}}

            Create a site (API, or else the CLI):
              curl -X POST {{url}}/api/sites -H "Authorization: Bearer {{token}}" \
                   -H 'Content-Type: application/json' \
                   -d '{"id":"demo","domains":["example.com"],"timeZone":"UTC","publicCounter":true}'
              {{cli}} sites add demo --domain example.com --public-counter

            Put the pixel on every page of the site:
              <img src="{{url}}/p.gif?s=demo" alt="" width="1" height="1" referrerpolicy="no-referrer-when-downgrade">

            See the counts:
              curl '{{url}}/api/sites/demo/counts?days=5'

            """);
    }
}
