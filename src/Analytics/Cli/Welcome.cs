namespace Analytics.Cli;

/// <summary>What a local run prints once it listens: where it is and how to start counting.</summary>
internal static class Welcome
{
    public static void Print(string url, string adminToken)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "analytics");
        Console.WriteLine($$"""

            Analytics is running at {{url}}   (Ctrl-C stops it and the local servers)
            Admin token: {{adminToken}}

            Create a site (API or CLI):
              curl -X POST {{url}}/api/sites -H 'Authorization: Bearer {{adminToken}}' \
                   -H 'Content-Type: application/json' \
                   -d '{"id":"demo","domains":["example.com"],"timeZone":"UTC","publicCounter":true}'
              {{cli}} sites add demo --domain example.com --public-counter

            Put the pixel on every page of the site:
              <img src="{{url}}/p.gif?s=demo" alt="" width="1" height="1" referrerpolicy="no-referrer-when-downgrade">

            See the counts:
              curl {{url}}/api/sites/demo/counts?days=5

            """);
    }
}
